"""How late the event loop runs a timer: the measure of a request that holds the loop.

A task sleeps ``interval`` seconds at a time; whatever it wakes up late is time the loop spent
on something else without yielding (a slow validation, a big JSON encode...). Exported as a
histogram and as the largest lag seen since start. On a loaded machine the lag also counts time
the OS gave to other processes, so the monitor also keeps the most CPU the loop's own thread
spent between two ticks: the hold itself, which the hostile-document fuzzer judges
(``bench/fuzz_hostile.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Histogram

if TYPE_CHECKING:
    from api.app import AppState

INTERVAL_SECONDS = 0.01

EVENT_LOOP_LAG = Histogram(
    "payouts_event_loop_lag_seconds",
    "How late the event loop ran a timer due every 10 ms",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
EVENT_LOOP_LAG_MAX = Gauge(
    "payouts_event_loop_lag_max_seconds",
    "The longest the event loop has been held since the process started",
    multiprocess_mode="max",
)
EVENT_LOOP_BUSY = Histogram(
    "payouts_event_loop_busy_seconds",
    "CPU the loop's thread spent between two ticks of the 10 ms timer",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
EVENT_LOOP_BUSY_MAX = Gauge(
    "payouts_event_loop_busy_max_seconds",
    "The most CPU the loop's thread spent between two ticks of the 10 ms timer since start "
    "(a held loop; unlike the lag, not inflated when the OS runs other processes instead)",
    multiprocess_mode="max",
)


GC_PAUSE = Histogram(
    "payouts_gc_pause_seconds",
    "How long each garbage collection held the event loop's thread, by generation",
    ["generation"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
GC_COLLECTED = Counter(
    "payouts_gc_collected_objects",
    "Objects the garbage collector freed on the event loop's thread, by generation",
    ["generation"],
)
# The generation thresholds set once the app is built (``gc.set_threshold``). Python's default
# (700, 10, 10) ran a full collection every few seconds under bench.fuzz_hostile, each over the
# few hundred thousand AST objects the document caches then held: 0.3-0.6 s of loop CPU. Since
# the document cache keeps its documents within an object budget (api/document_cache.py) and
# the steps over a document run with the collector paused, little garbage reaches the oldest
# generation, and the young ones can stay small: measured under that fuzz (60 s, 2 clients, a
# loaded machine), (3000, 10, 100) gave young passes of up to 45 ms and 12 ticks over 50 ms;
# (1000, 5, 100) young passes under 22 ms and 3 ticks over 50 ms (the rare full pass, ~150 ms
# there). payouts_gc_pause_seconds shows every pass by generation.
GC_THRESHOLDS = (1000, 5, 100)


class GcPauseObserver:
    """Times every collection on one thread (the loop's), through ``gc.callbacks``."""

    def __init__(self) -> None:
        self._thread = threading.get_ident()
        self._started = 0.0
        self._pauses = [GC_PAUSE.labels(str(g)) for g in range(3)]
        self._collected = [GC_COLLECTED.labels(str(g)) for g in range(3)]

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if threading.get_ident() != self._thread:
            return
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = info["generation"]
        self._pauses[generation].observe(time.perf_counter() - self._started)
        self._collected[generation].inc(info["collected"])


class LoopLagMonitor:
    def __init__(self, interval: float = INTERVAL_SECONDS) -> None:
        self.interval = interval
        self.worst = 0.0
        self.busiest = 0.0

    async def run(self) -> None:
        while True:
            started, cpu_started = time.perf_counter(), time.thread_time()
            await asyncio.sleep(self.interval)
            lag = max(0.0, time.perf_counter() - started - self.interval)
            busy = time.thread_time() - cpu_started
            EVENT_LOOP_LAG.observe(lag)
            EVENT_LOOP_BUSY.observe(busy)
            if lag > self.worst:
                self.worst = lag
                EVENT_LOOP_LAG_MAX.set(lag)
            if busy > self.busiest:
                self.busiest = busy
                EVENT_LOOP_BUSY_MAX.set(busy)


async def start_loop_lag_monitor(state: AppState) -> Callable[[], Awaitable[None]]:
    del state
    task = asyncio.create_task(LoopLagMonitor().run(), name="loop-lag-monitor")
    gc_observer = GcPauseObserver()
    gc.callbacks.append(gc_observer)

    async def stop() -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(gc_observer)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return stop
