"""Helpers for live-update tests: a Database with a real bus, and event recording."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass

from api.bus import asyncpg_dsn
from models.base import utcnow
from services.infra.database import Database
from services.infra.event_bus import DEFAULT_MAILBOX_CAPACITY, InProcessBus, LiveBus, PostgresBus
from services.infra.events import PublishedEvent, record_event


@asynccontextmanager
async def live_database(
    url: str,
    kind: str,
    *,
    capacity: int = DEFAULT_MAILBOX_CAPACITY,
    reconnect_delay: tuple[float, float] = (0.1, 1.0),
) -> AsyncIterator[tuple[Database, LiveBus]]:
    """A Database whose ``bus`` is a started bus of ``kind`` ("memory" or "postgres")."""
    db = Database(url)
    bus: LiveBus
    if kind == "postgres":
        bus = PostgresBus(asyncpg_dsn(url), capacity=capacity, reconnect_delay=reconnect_delay)
    else:
        bus = InProcessBus(capacity=capacity)
    await bus.start()
    db.bus = bus
    try:
        yield db, bus
    finally:
        await bus.stop()
        await db.dispose()


@dataclass(frozen=True)
class Change:
    organization_id: str
    livemode: bool
    object_type: str
    object_id: str
    type: str = ""

    @property
    def event_type(self) -> str:
        return self.type or f"{self.object_type}.updated"


async def record(db: Database, *changes: Change) -> None:
    """Commit one transaction recording one event per change."""
    async with db.transaction() as session:
        for change in changes:
            record_event(
                session,
                organization_id=change.organization_id,
                livemode=change.livemode,
                type=change.event_type,
                object_type=change.object_type,
                object_id=change.object_id,
            )


async def take(
    stream: AsyncGenerator[PublishedEvent, None], count: int, timeout: float = 15.0
) -> list[PublishedEvent]:
    return [await asyncio.wait_for(anext(stream), timeout) for _ in range(count)]


async def wait_until_live(bus: LiveBus, organization_id: str, count: int = 1) -> None:
    """Until ``count`` streams of the organization have read the log and are listening."""
    deadline = asyncio.get_running_loop().time() + 15.0
    while True:
        mailboxes = bus.hub.mailboxes(organization_id)
        if len(mailboxes) >= count and all(m.live for m in mailboxes):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("the stream never went live")
        await asyncio.sleep(0.01)


class Collector:
    """Consumes a stream in the background, so a test can also check what did *not* come."""

    def __init__(self, stream: AsyncGenerator[PublishedEvent, None]) -> None:
        self.events: list[PublishedEvent] = []
        self._arrived = asyncio.Event()
        self._task = asyncio.create_task(self._run(stream))

    async def _run(self, stream: AsyncGenerator[PublishedEvent, None]) -> None:
        try:
            async with aclosing(stream):
                async for event in stream:
                    self.events.append(event)
                    self._arrived.set()
        finally:
            self._arrived.set()

    async def wait_for(self, count: int, timeout: float = 15.0) -> list[PublishedEvent]:
        async with asyncio.timeout(timeout):
            while len(self.events) < count:
                if self._task.done():
                    self._task.result()
                    raise AssertionError("the stream ended early")
                self._arrived.clear()
                await self._arrived.wait()
        return list(self.events)

    async def ended(self, timeout: float = 5.0) -> None:
        """Until the stream ends by itself (raises what it raised)."""
        await asyncio.wait_for(asyncio.shield(self._task), timeout)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def published(seq: int, org: str = "org_a", object_type: str = "payout") -> PublishedEvent:
    """An event as the bus carries it (not in any log)."""
    return PublishedEvent(
        id=f"evt_{org}_{seq}",
        organization_id=org,
        livemode=False,
        seq=seq,
        type=f"{object_type}.updated",
        object_type=object_type,
        object_id=f"po_{seq}",
        occurred_at=utcnow(),
    )
