"""API key authentication for HTTP requests and WebSocket connections."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import asyncpg

from services import api_keys
from services.api_keys import Viewer
from services.database import Database

log = logging.getLogger(__name__)
# Fixed size: overflow connections are opened and closed per request under load (py-spy).
LOOKUP_POOL_SIZE = 4
_ADAPTER_OPTIONS = (
    "prepared_statement_cache_size",
    "prepared_statement_name_func",
    "async_creator_fn",
)
# Raised by a pooled connection the server closed while it sat idle (the protocol may also
# be left mid-message: InternalClientError "cannot switch to state").
_DEAD_CONNECTION = (
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    ConnectionError,
)


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


async def _reset_if_needed(connection: asyncpg.Connection) -> None:
    """Release hook of the lookup pool. Its connections only run one autocommit SELECT, so
    they carry no session state; asyncpg's default reset (advisory unlock, CLOSE ALL,
    UNLISTEN, RESET ALL) would be a second round trip per lookup."""
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


class Authenticator:
    """Looks keys up by prefix on every request (a revocation applies to the next request) and
    refreshes ``last_used_at`` at most once a minute per key.

    On PostgreSQL the lookup runs on a small asyncpg pool of its own: one prepared statement,
    one round trip, no session, ORM or greenlet (the shared engine's pre-ping alone is BEGIN,
    ping, ROLLBACK). A connection that died since its last use is retried once on a fresh one.
    SQLite keeps its session (our BEGIN hook owns its transactions).
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._touches: set[asyncio.Task[None]] = set()
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()

    async def __call__(self, key: str | None) -> Viewer | None:
        if not key:
            return None
        found = await self._lookup(key)
        if found is None:
            return None
        viewer, stale = found
        if stale:
            task = asyncio.create_task(self._touch(viewer.api_key_id))
            self._touches.add(task)
            task.add_done_callback(self._touches.discard)
        return viewer

    async def _lookup(self, key: str) -> tuple[Viewer, bool] | None:
        if self.db.is_sqlite:
            async with self.db.read() as session:
                return await api_keys.authenticate(session, key)
        prefix = api_keys.lookup_prefix(key)
        if prefix is None:
            return None
        try:
            row = await self._fetch_key_row(prefix)
        except _DEAD_CONNECTION:
            # Usually a database restart: every pooled connection is gone, not just this one.
            if self._pool is not None:
                await self._pool.expire_connections()
            row = await self._fetch_key_row(prefix)
        return api_keys.verify_key_row(key, None if row is None else tuple(row))

    async def _fetch_key_row(self, prefix: str) -> asyncpg.Record | None:
        pool = self._pool or await self._open_pool()
        async with pool.acquire() as connection:
            try:
                return await connection.fetchrow(api_keys.KEY_LOOKUP_SQL, prefix)
            except _DEAD_CONNECTION:
                connection.terminate()  # the pool replaces a closed connection
                raise

    async def _open_pool(self) -> asyncpg.Pool:
        async with self._pool_lock:
            if self._pool is None:
                engine = self.db.read_engine
                _, params = engine.dialect.create_connect_args(engine.url)
                for adapter_only in _ADAPTER_OPTIONS:  # SQLAlchemy's, not asyncpg's
                    params.pop(adapter_only, None)
                self._pool = await asyncpg.create_pool(
                    min_size=1, max_size=LOOKUP_POOL_SIZE, reset=_reset_if_needed, **params
                )
            return self._pool

    async def dispose(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _touch(self, api_key_id: str) -> None:
        try:
            async with self.db.transaction() as session:
                await api_keys.touch_key(session, api_key_id)
        except Exception:  # last_used_at is informative; never fail a request for it
            log.warning("could not record last use of key %s", api_key_id, exc_info=True)
