"""Pooled connections the server closed: the next transaction and the next single statement
still succeed (the pre-ping is the transaction's BEGIN; a statement is retried once)."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.infra.database import Database
from tests.support.postgres import terminate_other_connections

COUNTER = "CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL)"
BUMP = sa.text(
    "INSERT INTO counter VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = counter.n + 1 RETURNING n"
)


async def _kill_pooled(url: str) -> int:
    killed = await terminate_other_connections(url)
    await asyncio.sleep(0.1)
    return killed


async def _bump(connection: AsyncConnection) -> int:
    return int((await connection.execute(BUMP)).scalar_one())


async def _hold_three(db: Database) -> None:
    """Three transactions at once: three connections in the pool."""

    async def one() -> None:
        async with db.transaction() as session:
            await session.execute(sa.text("SELECT pg_sleep(0.05)"))

    await asyncio.gather(one(), one(), one())


@pytest.mark.postgres_only
async def test_transactions_and_statements_survive_killed_connections(
    private_database_url: str,
) -> None:
    db = Database(private_database_url)
    try:
        async with db.transaction() as session:
            await session.execute(sa.text(COUNTER))
        for _ in range(3):
            await _hold_three(db)
            assert await _kill_pooled(private_database_url) >= 1
            async with db.transaction() as session:
                assert (await session.execute(sa.text("SELECT 1"))).scalar_one() == 1
            await _hold_three(db)
            assert await _kill_pooled(private_database_url) >= 1
            bumped = await asyncio.gather(*(db.run_statement(_bump) for _ in range(3)))
            assert len(set(bumped)) == 3
        async with db.transaction() as session:
            # Each statement counted once: 3 rounds of 3.
            assert (await session.execute(sa.text("SELECT n FROM counter"))).scalar_one() == 9
    finally:
        await db.dispose()


async def test_a_statement_that_fails_is_not_retried(database_url: str) -> None:
    db = Database(database_url)
    runs = 0

    async def failing(connection: AsyncConnection) -> None:
        nonlocal runs
        runs += 1
        await connection.execute(sa.text("SELECT * FROM no_such_table"))

    try:
        with pytest.raises(sa.exc.DBAPIError):
            await db.run_statement(failing)
        assert runs == 1
    finally:
        await db.dispose()


@pytest.mark.postgres_only
async def test_text_statements_survive_killed_connections(private_database_url: str) -> None:
    """``run_text`` on the statement pool: a dead pooled connection costs one more run, each
    statement counted once."""
    db = Database(private_database_url)
    try:
        async with db.transaction() as session:
            await session.execute(sa.text(COUNTER))
        for _ in range(3):
            await asyncio.gather(*(db.run_text(BUMP, {}) for _ in range(3)))
            assert await _kill_pooled(private_database_url) >= 1
            rows = await asyncio.gather(*(db.run_text(BUMP, {}) for _ in range(3)))
            assert len({row["n"] for row in rows}) == 3
        async with db.transaction() as session:
            assert (await session.execute(sa.text("SELECT n FROM counter"))).scalar_one() == 18
        assert await db.run_text(sa.text("SELECT n FROM counter WHERE id = :id"), {"id": 2}) is None
    finally:
        await db.dispose()
