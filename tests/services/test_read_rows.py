"""``Database.read_rows``: the rows of a read statement built once, as the engine returns them
(values, types, column names), on PostgreSQL from the read pool, which survives its
connections being closed by the server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa

from models import Organization
from services.infra.database import Database
from tests.support.orgs import TestOrg
from tests.support.postgres import terminate_other_connections

TABLE: Any = Organization.__table__  # type: ignore[attr-defined]
STATEMENT = (
    sa.select(TABLE.c.id, TABLE.c.name, TABLE.c.event_seq, TABLE.c.created_at)
    .where(
        TABLE.c.id == sa.bindparam("organization_id"),
        TABLE.c.created_at > sa.bindparam("since", type_=TABLE.c.created_at.type),
    )
    .limit(sa.bindparam("limit", type_=sa.Integer()))
)


async def _engine_rows(db: Database, params: dict[str, Any]) -> list[Any]:
    async with db.autocommit() as connection:
        return list((await connection.execute(STATEMENT, params)).all())


async def test_the_rows_the_engine_returns(db: Database, org: TestOrg) -> None:
    # An offset other than UTC: the bind processor converts it as the engine would.
    since = datetime.now(UTC).astimezone(timezone(timedelta(hours=5))) - timedelta(days=1)
    params = {"organization_id": org.id, "since": since, "limit": 5}
    rows = await db.read_rows(STATEMENT, params)
    expected = await _engine_rows(db, params)
    assert len(rows) == 1
    assert [tuple(row) for row in rows] == [tuple(row) for row in expected]
    assert [[type(v) for v in row] for row in rows] == [[type(v) for v in row] for row in expected]
    assert rows[0]._fields == expected[0]._fields
    assert rows[0].id == org.id
    assert rows[0].created_at.tzinfo is UTC  # UTCDateTime's result processing
    later = {**params, "since": datetime.now(UTC) + timedelta(days=1)}
    assert await db.read_rows(STATEMENT, later) == []


@pytest.mark.postgres_only
async def test_the_read_pool_survives_closed_connections(
    private_database_url: str,
) -> None:
    db = Database(private_database_url)
    try:
        params = {"organization_id": "org_none", "since": datetime.now(UTC), "limit": 1}
        assert await db.read_rows(STATEMENT, params) == []
        assert await terminate_other_connections(private_database_url) >= 1
        assert await db.read_rows(STATEMENT, params) == []
    finally:
        await db.dispose()


@pytest.mark.postgres_only
async def test_the_read_pool_refuses_writes(db: Database) -> None:
    assert db.read_pool is not None
    pool = await db.read_pool.statements.open()
    async with pool.acquire() as connection:
        with pytest.raises(asyncpg.exceptions.ReadOnlySQLTransactionError):
            await connection.execute("UPDATE organizations SET name = name WHERE false")
