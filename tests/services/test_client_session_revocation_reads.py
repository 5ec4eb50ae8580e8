"""The revocation reads (at start, on every bus resync, per organization) use their partial
index rather than scanning the event log: checked on the statements the service executes."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from services.client_sessions.revocations import RevocationList, latest_revocation
from services.infra.database import Database
from tests.conftest import BACKEND

INDEX = "ix_events_client_session_revocations"


async def _plans_of_reads(db: Database) -> list[str]:
    """Run both reads, capture their SQL, and ask the database for each plan."""
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, parameters))

    sa.event.listen(db.read_engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with db.read() as session:
            await RevocationList().load(session)
            await latest_revocation(session, organization_id="org_x", livemode=False)
    finally:
        sa.event.remove(db.read_engine.sync_engine, "before_cursor_execute", capture)
    assert len(captured) == 2
    plans = []
    async with db.read_engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        for statement, parameters in captured:
            if BACKEND == "sqlite":
                rows = await driver.execute_fetchall(f"EXPLAIN QUERY PLAN {statement}", parameters)
                plans.append(" ".join(str(row[-1]) for row in rows))
            else:
                # A near-empty table is cheapest to scan: ask whether the index *can* serve it.
                await driver.execute("SET enable_seqscan = off")
                rows = await driver.fetch(f"EXPLAIN {statement}", *parameters)
                plans.append(" ".join(row[0] for row in rows))
        await conn.rollback()
    return plans


async def test_both_revocation_reads_use_the_partial_index(db: Database) -> None:
    plans = await _plans_of_reads(db)
    for plan in plans:
        assert INDEX in plan, plan


@pytest.mark.skipif(BACKEND != "sqlite", reason="the plan wording checked is SQLite's")
async def test_without_the_index_the_reads_scan_the_log(db: Database) -> None:
    """The check above can fail: dropped, the start-up read scans the whole event log and the
    per-organization one walks all of that organization's events."""
    async with db.transaction() as session:
        await session.execute(sa.text(f"DROP INDEX {INDEX}"))
    try:
        plans = await _plans_of_reads(db)
        assert all(INDEX not in plan for plan in plans), plans
        assert plans[0].startswith("SCAN events"), plans
    finally:
        async with db.transaction() as session:
            await session.execute(
                sa.text(
                    f"CREATE INDEX {INDEX} ON events (organization_id, livemode, occurred_at) "
                    "WHERE type = 'client_sessions.revoked'"
                )
            )
