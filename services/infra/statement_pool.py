"""A small asyncpg pool beside the ORM engine for single statements (PostgreSQL only).

Through the engine, one statement pays a session, the greenlet bridge, the pool's pre-ping and
SQLAlchemy's result machinery; here it is one round trip on a pooled connection, in autocommit
(one statement is atomic on its own). Used for the per-request key lookup and rate limit
bucket (``api/lean_pool.py``) and the hot reads (``services/infra/read_pool.py``).

There is no pre-ping: a connection the server closed while it sat idle (usually a database
restart: every pooled connection is gone at once) fails its statement, which is run once more
on a fresh connection. So only statements that are safe to run twice belong here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

# Raised by a pooled connection the server closed while it sat idle (the protocol may also
# be left mid-message: InternalClientError "cannot switch to state").
DEAD_CONNECTION = (
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    ConnectionError,
)
_ADAPTER_OPTIONS = (  # SQLAlchemy's connection arguments, not asyncpg's
    "prepared_statement_cache_size",
    "prepared_statement_name_func",
    "async_creator_fn",
)


async def _reset_if_needed(connection: asyncpg.Connection) -> None:
    """Release hook. The connections only run autocommit statements, so they carry no session
    state; asyncpg's default reset (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL) would be
    a second round trip per statement."""
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


class StatementPool:
    """Opened on first use with the engine's connection arguments and ``server_settings``."""

    def __init__(self, engine: AsyncEngine, size: int, server_settings: dict[str, str]) -> None:
        self.engine = engine
        self.size = size
        self.server_settings = server_settings
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def fetch(self, sql: str, args: Sequence[Any]) -> list[asyncpg.Record]:
        return await self._retried("fetch", sql, args)

    async def fetchrow(self, sql: str, args: Sequence[Any]) -> asyncpg.Record | None:
        return await self._retried("fetchrow", sql, args)

    async def _retried(self, method: str, sql: str, args: Sequence[Any]) -> Any:
        try:
            return await self._run(method, sql, args)
        except DEAD_CONNECTION:
            if self._pool is not None:
                await self._pool.expire_connections()
            return await self._run(method, sql, args)

    async def _run(self, method: str, sql: str, args: Sequence[Any]) -> Any:
        pool = self._pool or await self.open()
        async with pool.acquire() as connection:
            try:
                return await getattr(connection, method)(sql, *args)
            except DEAD_CONNECTION:
                connection.terminate()  # the pool replaces a closed connection
                raise

    async def open(self) -> asyncpg.Pool:
        async with self._lock:
            if self._pool is None:
                _, params = self.engine.dialect.create_connect_args(self.engine.url)
                for adapter_only in _ADAPTER_OPTIONS:
                    params.pop(adapter_only, None)
                server_settings = dict(params.pop("server_settings", None) or {})
                server_settings.update(self.server_settings)
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
