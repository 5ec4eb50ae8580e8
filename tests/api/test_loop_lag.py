"""The loop-lag monitor sees a callback that holds the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import time

from api.loop_lag import EVENT_LOOP_LAG_MAX, LoopLagMonitor


async def test_a_blocking_call_shows_as_lag() -> None:
    monitor = LoopLagMonitor(interval=0.005)
    task = asyncio.create_task(monitor.run())
    await asyncio.sleep(0.02)
    time.sleep(0.12)  # holds the loop, as a slow request would
    await asyncio.sleep(0.02)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert monitor.worst >= 0.1
    assert EVENT_LOOP_LAG_MAX._value.get() >= 0.1
