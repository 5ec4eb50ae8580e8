"""Open WebSocket connections by API key, closed with 4403 soon after their key is revoked.

A WebSocket is authenticated once, at ``connection_init``; without this, a revoked key kept its
subscriptions until the client disconnected. Two paths lead here:

- the event bus: a revocation records an ``api_key.revoked`` event, which the PostgreSQL bus
  delivers at commit to every server process; each checks at once;
- a check every ``interval`` seconds of the keys of this process's open connections (one
  indexed query, only while connections are open), for revocations no bus announced to us
  (the in-process bus cannot hear the ``payouts revoke-key`` command, another process).

Either way the database decides: an event is only a reason to look.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from services.infra.database import Database
from services.infra.event_bus import LiveBus
from services.infra.events import PublishedEvent
from services.organizations import api_keys

log = logging.getLogger(__name__)

REVOKED_REASON = "Forbidden: the API key of this connection was revoked"
REVOCATION_CHECK_SECONDS = 0.5


class Closable(Protocol):
    async def close_for_revocation(self) -> None: ...


class OpenConnections:
    def __init__(self, db: Database, interval: float = REVOCATION_CHECK_SECONDS) -> None:
        self.db = db
        self.interval = interval
        self._by_key: dict[str, set[Closable]] = {}
        self._checks: set[asyncio.Task[int]] = set()

    def add(self, api_key_id: str, connection: Closable) -> None:
        self._by_key.setdefault(api_key_id, set()).add(connection)

    def discard(self, api_key_id: str, connection: Closable) -> None:
        connections = self._by_key.get(api_key_id)
        if connections is not None:
            connections.discard(connection)
            if not connections:
                del self._by_key[api_key_id]

    async def close_revoked(self) -> int:
        if not self._by_key:
            return 0
        async with self.db.read() as session:
            revoked = await api_keys.revoked_among(session, list(self._by_key))
        closing = [c for key in revoked for c in self._by_key.pop(key, ())]
        await asyncio.gather(*(c.close_for_revocation() for c in closing), return_exceptions=True)
        return len(closing)

    def on_event(self, event: PublishedEvent) -> None:
        """A bus observer: a revocation of a key with open connections here is checked now."""
        if event.type == api_keys.KEY_REVOKED_EVENT and event.object_id in self._by_key:
            check = asyncio.create_task(self.close_revoked(), name="ws-key-revoked")
            self._checks.add(check)
            check.add_done_callback(self._checks.discard)

    async def start(self) -> Callable[[], Awaitable[None]]:
        if isinstance(self.db.bus, LiveBus):
            self.db.bus.hub.observers.append(self.on_event)
        task = asyncio.create_task(self._watch(), name="ws-key-revocation")

        async def stop() -> None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        return stop

    async def _watch(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.interval)
            try:
                closed = await self.close_revoked()
            except Exception as exc:
                if not failing:  # once per outage, not twice a second
                    log.warning("revoked-key check failed (%s); retrying", type(exc).__name__)
                failing = True
                continue
            failing = False
            if closed:
                log.info("closed %d WebSocket connection(s) of revoked keys", closed)
