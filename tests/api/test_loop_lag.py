"""The loop-lag monitor sees a callback that holds the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from pathlib import Path
from typing import Any

from api.loop_lag import (
    EVENT_LOOP_BUSY_MAX,
    EVENT_LOOP_LAG_MAX,
    GC_COLLECTED,
    GC_PAUSE,
    GC_THRESHOLDS,
    GcPauseObserver,
    LoopLagMonitor,
)


async def test_a_blocking_call_shows_as_lag() -> None:
    monitor = LoopLagMonitor(interval=0.005)
    task = asyncio.create_task(monitor.run())
    await asyncio.sleep(0.02)
    time.sleep(0.12)  # holds the loop without CPU (the OS ran something else): lag only
    await asyncio.sleep(0.02)
    busy_until = time.thread_time() + 0.12
    while time.thread_time() < busy_until:  # holds the loop with CPU, as a slow request would
        pass
    await asyncio.sleep(0.02)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert monitor.worst >= 0.1
    assert EVENT_LOOP_LAG_MAX._value.get() >= 0.1
    assert monitor.busiest >= 0.1
    assert EVENT_LOOP_BUSY_MAX._value.get() >= 0.1


def test_every_collection_is_timed_by_generation() -> None:
    observer = GcPauseObserver()
    before = GC_PAUSE.labels("2")._sum.get()
    count_before = _count(GC_PAUSE.labels("2"))
    gc.callbacks.append(observer)
    try:
        garbage: list[object] = []
        for _ in range(2_000):
            cycle: list[object] = []
            cycle.append(cycle)  # freed only by the collector
            garbage.append(cycle)
        del garbage
        gc.collect(2)
    finally:
        gc.callbacks.remove(observer)
    assert _count(GC_PAUSE.labels("2")) >= count_before + 1
    assert GC_PAUSE.labels("2")._sum.get() > before
    assert GC_COLLECTED.labels("2")._value.get() >= 2_000


def test_the_app_collects_young_generations_less_often_once_built(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    default = gc.get_threshold()
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'gc.db'}"))
    try:
        with TestClient(app) as client:
            assert client.get("/healthz").status_code == 200
            assert gc.get_threshold() == GC_THRESHOLDS
            metrics = client.get("/metrics").text
        assert "payouts_gc_pause_seconds_bucket" in metrics
    finally:
        gc.set_threshold(*default)
        gc.unfreeze()


def _count(histogram: Any) -> float:
    return float(sum(bucket.get() for bucket in histogram._buckets))
