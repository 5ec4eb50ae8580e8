"""How late the event loop runs a timer: the measure of a request that holds the loop.

A task sleeps ``interval`` seconds at a time; whatever it wakes up late is time the loop spent
on something else without yielding (a slow validation, a big JSON encode...). Exported as a
histogram and as the largest lag seen since start, which the hostile-document fuzzer reads
(``bench/fuzz_hostile.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from prometheus_client import Gauge, Histogram

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


class LoopLagMonitor:
    def __init__(self, interval: float = INTERVAL_SECONDS) -> None:
        self.interval = interval
        self.worst = 0.0

    async def run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(self.interval)
            lag = max(0.0, time.perf_counter() - started - self.interval)
            EVENT_LOOP_LAG.observe(lag)
            if lag > self.worst:
                self.worst = lag
                EVENT_LOOP_LAG_MAX.set(lag)


async def start_loop_lag_monitor(state: AppState) -> Callable[[], Awaitable[None]]:
    del state
    task = asyncio.create_task(LoopLagMonitor().run(), name="loop-lag-monitor")

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return stop
