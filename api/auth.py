"""API key authentication for HTTP requests and WebSocket connections."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from api.lean_pool import LeanPool
from services.client_sessions.service import ClientSessions
from services.client_sessions.tokens import ClientSession, is_client_session_token
from services.infra.database import Database
from services.organizations import api_keys
from services.organizations.api_keys import Viewer

log = logging.getLogger(__name__)


def key_from_headers(headers: Mapping[str, str]) -> str | None:
    key = headers.get("x-api-key")
    if key:
        return key.strip()
    authorization = headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def key_from_connection_params(params: Any) -> str | None:
    if not isinstance(params, dict):
        return None
    lowered = {str(k).lower(): v for k, v in params.items() if isinstance(v, str)}
    return key_from_headers(lowered)


class RevocationFeed(Protocol):
    """Where revocations committed by any process are heard (``services.event_bus.PostgresBus``)."""

    @property
    def listening(self) -> bool: ...

    def listen(self, channel: str, callback: Callable[[str | None], None]) -> None: ...


class KeyCache:
    """Viewers of keys seen in the last ``ttl`` seconds, by the key's SHA-256 (never the key).

    Only valid keys are kept. ``forget_all`` empties it; a lookup that started before the
    latest ``forget_all`` is not stored (its row may predate the revocation that emptied it).
    Bounded: expired entries go first, then the oldest.
    """

    def __init__(
        self, ttl: float, maxsize: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.maxsize = maxsize
        self.clock = clock
        self.generation = 0
        self._entries: dict[str, tuple[Viewer, float]] = {}

    def get(self, digest: str) -> Viewer | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if entry[1] <= self.clock():
            del self._entries[digest]
            return None
        return entry[0]

    def put(self, digest: str, viewer: Viewer, generation: int) -> None:
        if generation != self.generation:
            return
        now = self.clock()
        if len(self._entries) >= self.maxsize:
            for old in [d for d, (_, expires) in self._entries.items() if expires <= now]:
                del self._entries[old]
            while len(self._entries) >= self.maxsize:
                del self._entries[next(iter(self._entries))]
        self._entries[digest] = (viewer, now + self.ttl)

    def forget_all(self, _payload: str | None = None) -> None:
        self._entries.clear()
        self.generation += 1

    def __len__(self) -> int:
        return len(self._entries)


class Authenticator:
    """Finds the viewer of a key and refreshes ``last_used_at`` at most once a minute per key.

    On PostgreSQL the lookup runs on the lean asyncpg pool (``api/lean_pool.py``, shared with
    the rate limiter when given; else one of its own): one prepared statement, one round trip.
    SQLite keeps its session (our BEGIN hook owns its transactions).

    With a revocation feed (the PostgreSQL event bus) valid keys are cached for ``cache_seconds``,
    and only while the feed is listening: every revocation empties the cache of every process
    at once, and so does any moment the feed may have missed one (its connection lost or
    re-made). The TTL is the backstop. Without a feed (SQLite, the in-process bus: a revocation
    by the CLI reaches no other process) every request looks its key up.
    """

    def __init__(
        self,
        db: Database,
        pool: LeanPool | None = None,
        *,
        revocations: RevocationFeed | None = None,
        cache_seconds: float = 0.0,
        cache_size: int = 10_000,
        client_sessions: ClientSessions | None = None,
    ) -> None:
        self.db = db
        self.client_sessions = client_sessions
        self._touches: set[asyncio.Task[None]] = set()
        self._owns_pool = pool is None and not db.is_sqlite
        self._pool = LeanPool(db) if self._owns_pool else pool
        self._revocations = revocations if cache_seconds > 0 else None
        self.cache = KeyCache(cache_seconds, cache_size)
        if self._revocations is not None:
            self._revocations.listen(api_keys.REVOCATION_CHANNEL, self.cache.forget_all)

    async def __call__(self, key: str | None) -> Viewer | None:
        if not key:
            return None
        if is_client_session_token(key):
            return self.client_session_viewer(key)
        feed = self._revocations
        if feed is None or not feed.listening:
            return await self._authenticate(key)
        digest = api_keys.hash_key(key)
        viewer = self.cache.get(digest)
        if viewer is not None:
            return viewer
        generation = self.cache.generation
        viewer = await self._authenticate(key)
        if viewer is not None and feed.listening:
            self.cache.put(digest, viewer, generation)
        return viewer

    async def _authenticate(self, key: str) -> Viewer | None:
        found = await self._lookup(key)
        if found is None:
            return None
        viewer, stale = found
        if stale:
            task = asyncio.create_task(self._touch(viewer.api_key_id))
            self._touches.add(task)
            task.add_done_callback(self._touches.discard)
        return viewer

    async def keys_only(self, key: str | None) -> Viewer | None:
        """For edges that serve backends only (the REST API): a client session is refused
        there, since its scopes are enforced by the GraphQL schema alone."""
        if key and is_client_session_token(key):
            return None
        return await self(key)

    def client_session_viewer(self, token: str) -> Viewer | None:
        """A client session is checked in memory: signature, expiry, revocation (SPEC §3.12)."""
        if self.client_sessions is None:
            return None
        session = self.client_sessions.check(token)
        return None if session is None else viewer_of_session(session)

    async def _lookup(self, key: str) -> tuple[Viewer, bool] | None:
        if self.db.is_sqlite:
            async with self.db.read() as session:
                return await api_keys.authenticate(session, key)
        prefix = api_keys.lookup_prefix(key)
        if prefix is None:
            return None
        assert self._pool is not None
        row = await self._pool.fetchrow(api_keys.KEY_LOOKUP_SQL, prefix)
        return api_keys.verify_key_row(key, None if row is None else tuple(row))

    async def dispose(self) -> None:
        if self._owns_pool and self._pool is not None:
            await self._pool.close()

    async def _touch(self, api_key_id: str) -> None:
        try:
            async with self.db.transaction() as session:
                await api_keys.touch_key(session, api_key_id)
        except Exception:  # last_used_at is informative; never fail a request for it
            log.warning("could not record last use of key %s", api_key_id, exc_info=True)


def viewer_of_session(session: ClientSession) -> Viewer:
    return Viewer(
        organization_id=session.organization_id,
        organization_name=session.organization_name,
        country=session.country,
        currency=session.currency,
        livemode=session.livemode,
        api_key_id=session.api_key_id,  # the minting key's rate limit bucket
        scopes=session.scopes,
        expires_at=session.expires_at,
    )
