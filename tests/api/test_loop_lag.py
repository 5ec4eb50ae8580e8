"""The loop-lag monitor sees a callback that holds the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import time

from api.loop_lag import EVENT_LOOP_BUSY_MAX, EVENT_LOOP_LAG_MAX, LoopLagMonitor


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
