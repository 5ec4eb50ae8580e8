"""A small asyncpg pool beside the ORM engine, for the single-statement queries of every request.

The API key lookup and the rate limit upsert run once per request. Through the shared engine
each would pay a session, the greenlet bridge and the pre-ping (BEGIN, ping, ROLLBACK); here each
is one prepared statement and one round trip, in autocommit (one statement is atomic on its own).

Its connections commit without waiting for the WAL flush (``synchronous_commit = off``): they
only read keys and write rate limit buckets, and a bucket lost in a crash hands back a few
tokens at most. Nothing about money may run on this pool.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from services.infra.database import Database
from services.infra.statement_pool import StatementPool

# Fixed size: overflow connections are opened and closed per request under load (py-spy).
LEAN_POOL_SIZE = 4


class LeanPool:
    """Opened on first use from the database's URL (PostgreSQL only)."""

    def __init__(self, db: Database, size: int = LEAN_POOL_SIZE) -> None:
        if db.is_sqlite:
            raise ValueError("the lean pool speaks asyncpg: PostgreSQL only")
        self.db = db
        self._statements = StatementPool(db.read_engine, size, {"synchronous_commit": "off"})

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        """One statement, retried once on a fresh connection if its connection had died."""
        return await self._statements.fetchrow(sql, args)

    async def close(self) -> None:
        await self._statements.close()
