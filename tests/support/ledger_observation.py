"""The stateful ledger test's environment (database, real sandbox provider, event loop thread)
and its view of the database: one organization's balance, payouts, ledger entries per payout,
stored provider events, and verify-ledger's findings."""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from api.settings import Settings
from models import Balance, BalanceTransaction, Payout, ProviderEvent
from providers.registry import ProviderRegistry
from providers.sandbox import SandboxConfig, SandboxProvider
from services.infra.database import Database
from services.ledger import service as ledger
from services.ledger.audit import verify
from tests.support.loop_thread import LoopThread


async def observe(db: Database, org_id: str, event_ids: list[str]) -> dict[str, Any]:
    """What the database says about one organization (verify() violations judged for its
    objects only: earlier examples' organizations share the database)."""
    async with db.read() as session, session.begin():
        violations = await verify(session)
    async with db.read() as session:
        ours = await _object_ids(session, org_id)
        violations = [v for v in violations if v.object_id in ours]
        balance = await ledger.get_balance(session, org_id, False, "usd")
        rows = (
            await session.execute(sa.select(Payout).where(col(Payout.organization_id) == org_id))
        ).scalars()
        payout_rows = list(rows)
        entries = await session.execute(
            sa.select(col(BalanceTransaction.source_id), col(BalanceTransaction.type)).where(
                col(BalanceTransaction.organization_id) == org_id,
                col(BalanceTransaction.source_type) == "payout",
            )
        )
        by_payout: dict[str, list[str]] = {}
        for source_id, kind in entries.all():
            by_payout.setdefault(str(source_id), []).append(str(kind))
        event_rows = await session.execute(
            sa.select(col(ProviderEvent.event_id), col(ProviderEvent.applied_at)).where(
                col(ProviderEvent.event_id).in_(event_ids)
            )
        )
        events = [(str(eid), applied is not None) for eid, applied in event_rows.all()]
        balance_rows = await session.execute(
            sa.select(sa.func.count()).where(col(Balance.organization_id) == org_id)
        )
    assert balance_rows.scalar_one() <= 1
    assert len(events) == len({eid for eid, _ in events})  # one row per event id
    return {
        "violations": violations,
        "buckets": {
            "available": balance.available,
            "pending": balance.pending,
            "in_transit": balance.in_transit,
            "paid_out": balance.paid_out,
        },
        "statuses": {p.id: str(p.status) for p in payout_rows},
        "transfers": {p.id: p.provider_transfer_id for p in payout_rows},
        "entries": by_payout,
        "events": dict(events),
    }


async def _object_ids(session: AsyncSession, org_id: str) -> set[str]:
    ids: set[str] = set()
    for table in (Balance, Payout, BalanceTransaction):
        found = await session.execute(
            sa.select(col(table.id)).where(col(table.organization_id) == org_id)
        )
        ids.update(str(i) for i in found.scalars())
    return ids


@dataclasses.dataclass
class Env:
    loop: LoopThread
    db: Database
    provider: SandboxProvider
    registry: ProviderRegistry
    config: SandboxConfig


async def environment(url: str, loop: LoopThread) -> Env:
    db = Database(url)
    config = SandboxConfig(
        webhook_url="http://127.0.0.1:9/webhooks/sandbox",  # the test plays the provider's events
        webhook_secret=Settings().sandbox_webhook_secret,
        delay_seconds=3600,
    )
    provider = SandboxProvider(db, config, is_postgres=not db.is_sqlite)
    return Env(loop, db, provider, ProviderRegistry(provider), config)
