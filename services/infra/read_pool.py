"""A small asyncpg pool for hot single-statement reads (PostgreSQL only), beside the engine.

Through the engine, one page of payouts paid the pool checkout with its pre-ping, the greenlet
bridge, the statement's cache key and SQLAlchemy's result rows: about three quarters of the
read's CPU (issue 16, case 2). Here a statement compiled once runs on a pooled asyncpg
connection in one round trip, and its rows come back as named tuples (attribute access by
column name, as Core rows have).

Read only: the connections open with ``default_transaction_read_only = on``, so a write sent
here by mistake fails instead of committing. A statement whose connection had died is run once
more on a fresh one (``services/infra/statement_pool.py``; reads are safe to repeat).
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.infra.statement_pool import StatementPool


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


class ReadPool:
    """Opened on first use with the engine's connection arguments, read only."""

    def __init__(self, engine: AsyncEngine, size: int) -> None:
        self.engine = engine
        self.statements = StatementPool(engine, size, {"default_transaction_read_only": "on"})
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
        return compiled.rows(await self.statements.fetch(compiled.sql, compiled.args(params)))

    async def close(self) -> None:
        await self.statements.close()
