"""A small asyncpg pool beside the ORM engine, for the single-statement queries of every request.

The API key lookup and the rate limit upsert run once per request. Through the shared engine
each would pay a session, the greenlet bridge and the pre-ping (BEGIN, ping, ROLLBACK); here each
is one prepared statement and one round trip, in autocommit (one statement is atomic on its own).

Its connections commit without waiting for the WAL flush (``synchronous_commit = off``): they
only read keys and write rate limit buckets, and a bucket lost in a crash hands back a few
tokens at most. Nothing about money may run on this pool.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from services.infra.database import Database

# Fixed size: overflow connections are opened and closed per request under load (py-spy).
LEAN_POOL_SIZE = 4
_ADAPTER_OPTIONS = (
    "prepared_statement_cache_size",
    "prepared_statement_name_func",
    "async_creator_fn",
)
# Raised by a pooled connection the server closed while it sat idle (the protocol may also
# be left mid-message: InternalClientError "cannot switch to state").
DEAD_CONNECTION = (
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    ConnectionError,
)


async def _reset_if_needed(connection: asyncpg.Connection) -> None:
    """Release hook. The connections only run autocommit statements, so they carry no session
    state; asyncpg's default reset (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL) would be
    a second round trip per query."""
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


class LeanPool:
    """Opened on first use from the database's URL (PostgreSQL only)."""

    def __init__(self, db: Database, size: int = LEAN_POOL_SIZE) -> None:
        if db.is_sqlite:
            raise ValueError("the lean pool speaks asyncpg: PostgreSQL only")
        self.db = db
        self.size = size
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        """One statement; a connection that died since its last use is retried once on a
        fresh one (usually a database restart: every pooled connection is gone at once)."""
        try:
            return await self._fetchrow(sql, args)
        except DEAD_CONNECTION:
            if self._pool is not None:
                await self._pool.expire_connections()
            return await self._fetchrow(sql, args)

    async def _fetchrow(self, sql: str, args: tuple[Any, ...]) -> asyncpg.Record | None:
        pool = self._pool or await self._open()
        async with pool.acquire() as connection:
            try:
                return await connection.fetchrow(sql, *args)
            except DEAD_CONNECTION:
                connection.terminate()  # the pool replaces a closed connection
                raise

    async def _open(self) -> asyncpg.Pool:
        async with self._lock:
            if self._pool is None:
                engine = self.db.read_engine
                _, params = engine.dialect.create_connect_args(engine.url)
                for adapter_only in _ADAPTER_OPTIONS:  # SQLAlchemy's, not asyncpg's
                    params.pop(adapter_only, None)
                server_settings = dict(params.pop("server_settings", None) or {})
                server_settings["synchronous_commit"] = "off"
                self._pool = await asyncpg.create_pool(
                    min_size=1,
                    max_size=self.size,
                    reset=_reset_if_needed,
                    server_settings=server_settings,
                    **params,
                )
            return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
