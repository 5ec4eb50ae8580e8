"""A small asyncpg pool for hot single-statement reads (PostgreSQL only), beside the engine.

Through the engine, one page of payouts paid the pool checkout with its pre-ping, the greenlet
bridge, the statement's cache key and SQLAlchemy's result rows: about three quarters of the
read's CPU (issue 16, case 2). Here a statement compiled once runs on a pooled asyncpg
connection in one round trip, and its rows come back as named tuples (attribute access by
column name, as Core rows have).

Read only: the connections open with ``default_transaction_read_only = on``, so a write sent
here by mistake fails instead of committing. There is no pre-ping: a connection the server
closed while it sat idle fails its statement, and that statement is retried once on a fresh
connection (reads are safe to repeat), usually after a database restart.
"""

from __future__ import annotations

import asyncio
from collections import namedtuple
from typing import Any

import asyncpg
import sqlalchemy as sa
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
_ADAPTER_OPTIONS = (
    "prepared_statement_cache_size",
    "prepared_statement_name_func",
    "async_creator_fn",
)


class Compiled:
    """A select compiled once for PostgreSQL: its SQL, its bind parameters in order with the
    types' bind processors, and its columns' result processors and row type (the values are
    those the engine would return, e.g. ``UTCDateTime``'s)."""

    __slots__ = ("binds", "results", "row", "sql")

    def __init__(self, statement: sa.Select[Any], engine: AsyncEngine) -> None:
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.binds = tuple(
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in compiled.positiontup or ()
        )
        columns = list(statement.selected_columns)
        self.results = tuple(
            (index, processor)
            for index, column in enumerate(columns)
            if (processor := column.type.dialect_impl(dialect).result_processor(dialect, None))
            is not None
        )
        self.row: Any = namedtuple("Row", [column.name for column in columns])  # type: ignore[misc]

    def args(self, params: dict[str, Any]) -> list[Any]:
        return [
            params[name] if process is None else process(params[name])
            for name, process in self.binds
        ]

    def rows(self, records: list[asyncpg.Record]) -> list[Any]:
        make = self.row._make
        if not self.results:
            return [make(record) for record in records]
        results = self.results
        rows = []
        for record in records:
            values = list(record)
            for index, process in results:
                values[index] = process(values[index])
            rows.append(make(values))
        return rows


async def _reset_if_needed(connection: asyncpg.Connection) -> None:
    """Release hook: the connections run single statements only and carry no session state;
    asyncpg's default reset would be a second round trip per read."""
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


class ReadPool:
    """Opened on first use with the engine's connection arguments."""

    def __init__(self, engine: AsyncEngine, size: int) -> None:
        self.engine = engine
        self.size = size
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()
        self._compiled: dict[int, tuple[sa.Select[Any], Compiled]] = {}

    def compiled(self, statement: sa.Select[Any]) -> Compiled:
        """For statements built once (kept here, so their ids stay their own)."""
        entry = self._compiled.get(id(statement))
        if entry is None or entry[0] is not statement:
            entry = self._compiled[id(statement)] = (statement, Compiled(statement, self.engine))
        return entry[1]

    async def rows(self, statement: sa.Select[Any], params: dict[str, Any]) -> list[Any]:
        """The rows of one read statement built once (named tuples by column name)."""
        compiled = self.compiled(statement)
        args = compiled.args(params)
        try:
            records = await self._fetch(compiled.sql, args)
        except DEAD_CONNECTION:
            if self._pool is not None:
                await self._pool.expire_connections()
            records = await self._fetch(compiled.sql, args)
        return compiled.rows(records)

    async def _fetch(self, sql: str, args: list[Any]) -> list[asyncpg.Record]:
        pool = self._pool or await self._open()
        async with pool.acquire() as connection:
            try:
                return await connection.fetch(sql, *args)
            except DEAD_CONNECTION:
                connection.terminate()  # the pool replaces a closed connection
                raise

    async def _open(self) -> asyncpg.Pool:
        async with self._lock:
            if self._pool is None:
                _, params = self.engine.dialect.create_connect_args(self.engine.url)
                for adapter_only in _ADAPTER_OPTIONS:  # SQLAlchemy's, not asyncpg's
                    params.pop(adapter_only, None)
                server_settings = dict(params.pop("server_settings", None) or {})
                server_settings["default_transaction_read_only"] = "on"
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
