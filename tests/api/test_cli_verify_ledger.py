"""``payouts verify-ledger`` finds every kind of violation and exits non-zero."""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlmodel import col

from models import Balance
from services.infra.database import Database
from services.ledger import service as ledger
from services.organizations import api_keys
from tests.support.payouts import verify_ledger


async def funded_database(url: str) -> tuple[Database, str]:
    db = Database(url)
    async with db.transaction() as session:
        created = await api_keys.create_organization(session, name="Audit Co")
        await ledger.credit(
            session,
            organization_id=created.organization.id,
            livemode=False,
            currency="usd",
            amount=5_000,
            description=None,
            available_in_seconds=0,
        )
    return db, created.organization.id


async def test_clean_ledger_exits_zero(private_database_url: str) -> None:
    db, _ = await funded_database(private_database_url)
    await db.dispose()
    result = verify_ledger(private_database_url)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"ok": True, "violations": []}


async def test_balance_row_not_matching_its_entries_exits_non_zero(
    private_database_url: str,
) -> None:
    db, org_id = await funded_database(private_database_url)
    async with db.transaction() as session:
        await session.execute(
            sa.update(Balance)
            .where(col(Balance.organization_id) == org_id)
            .values(available=Balance.available + 1)
        )
    await db.dispose()
    result = verify_ledger(private_database_url)
    assert result.returncode == 1
    kinds = {v["kind"] for v in json.loads(result.stdout)["violations"]}
    assert "balance_not_sum_of_entries" in kinds
