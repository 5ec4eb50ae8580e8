"""One read of an event's object per server process, shared by every subscriber it reaches.

A change fans out to every subscriber of the organization at once; reading the object once per
subscriber made a 1,000-subscriber fan-out 1,000 reads through a pool of 20 connections. The read
still happens after the event committed, in a session of its own (never a connection's cached
loader), so each subscriber sees the object as it is after the change. Entries live a few seconds:
long enough for a fan-out, not long enough to serve a replay of an old event later.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

TTL_SECONDS = 5.0
MAX_ENTRIES = 10_000


class EventObjectCache:
    def __init__(self, ttl: float = TTL_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[float, asyncio.Future[Any]]] = OrderedDict()
        self.reads = 0  # loader calls, for tests and curiosity

    async def get(self, key: Hashable, read: Callable[[], Awaitable[Any]]) -> Any:
        now = time.monotonic()
        self._evict(now)
        entry = self._entries.get(key)
        if entry is not None:
            shared = entry[1]
            if shared.done():  # the common case of a fan-out: no shield, no callback
                return shared.result()
            return await asyncio.shield(shared)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._entries[key] = (now + self.ttl, future)
        self.reads += 1
        try:
            value = await read()
        except BaseException as exc:
            self._entries.pop(key, None)  # the next subscriber tries again
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else must
            raise
        future.set_result(value)
        return value

    def _evict(self, now: float) -> None:
        # Oldest first; an entry stays while it is fresh or still being read, unless full.
        while self._entries:
            expires, future = next(iter(self._entries.values()))
            full = len(self._entries) >= self.max_entries
            if not full and (expires > now or not future.done()):
                return
            self._entries.popitem(last=False)


EVENT_OBJECTS = EventObjectCache()
