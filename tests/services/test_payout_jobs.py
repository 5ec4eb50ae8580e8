"""The release job and the reconciler run safely in several processes at once (each
``Database`` here is a separate engine, as in separate server processes), and a transfer event
that arrives before the transfer is known is applied once the provider's answer is recorded."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from api.settings import Settings
from models import Balance, BalanceTransaction, Payout, SandboxTransfer
from models.base import utcnow
from providers.base import ProviderError, Transfer, TransferRequest, WebhookEvent
from providers.registry import ProviderRegistry
from providers.sandbox import SandboxConfig, SandboxProvider
from services.infra.database import Database
from services.ledger import release as balance_release
from services.ledger import service as ledger
from services.ledger.audit import verify
from services.organizations import api_keys
from services.payouts import reconciler
from services.payouts import service as payouts
from services.provider_events import ingest as webhooks
from tests.support.payout_setup import insert_verified_payout_account

PROCESSES = 3


@pytest.fixture
async def databases(private_database_url: str) -> AsyncIterator[list[Database]]:
    dbs = [Database(private_database_url) for _ in range(PROCESSES)]
    yield dbs
    for db in dbs:
        await db.dispose()


async def new_org(db: Database) -> str:
    async with db.transaction() as session:
        created = await api_keys.create_organization(session, name="Jobs Co")
    await insert_verified_payout_account(db, created.organization.id)
    return created.organization.id


async def credit(db: Database, org_id: str, amount: int, delay: int = 0) -> None:
    async with db.transaction() as session:
        await ledger.credit(
            session,
            organization_id=org_id,
            livemode=False,
            currency="usd",
            amount=amount,
            description=None,
            available_in_seconds=delay,
        )


async def request_unsubmitted(
    db: Database, org_id: str, policy: payouts.PayoutPolicy, amount: int = 2_000
) -> Payout:
    """A committed payout whose after-commit provider call never happened (process died)."""
    async with db.transaction() as session:
        return await payouts.request_payout(
            session,
            organization_id=org_id,
            livemode=False,
            currency="usd",
            amount=amount,
            description=None,
            provider="sandbox",
            policy=policy,
        )


async def audit(db: Database) -> list[object]:
    async with db.read() as session, session.begin():
        return list(await verify(session))


def registry_for(db: Database) -> ProviderRegistry:
    config = SandboxConfig(
        webhook_url="http://127.0.0.1:9/webhooks/sandbox",  # never delivered in these tests
        webhook_secret=Settings().sandbox_webhook_secret,
        delay_seconds=3600,
    )
    return ProviderRegistry(SandboxProvider(db, config, is_postgres=not db.is_sqlite))


async def test_release_job_in_several_processes_releases_each_credit_once(
    databases: list[Database],
) -> None:
    org_id = await new_org(databases[0])
    for _ in range(40):
        await credit(databases[0], org_id, 250, delay=1)
    await asyncio.sleep(1.1)

    async def drain(db: Database) -> int:
        total = 0
        while released := await balance_release.release_pass(db, limit=7):
            total += released
        return total

    counts = await asyncio.gather(*(drain(db) for db in databases))
    async with databases[0].read() as session:
        balance = (
            await session.execute(sa.select(Balance).where(col(Balance.organization_id) == org_id))
        ).scalar_one()
        releases = (
            await session.execute(
                sa.select(sa.func.count()).where(
                    col(BalanceTransaction.organization_id) == org_id,
                    col(BalanceTransaction.type) == "CREDIT_RELEASE",
                )
            )
        ).scalar_one()
    assert sum(counts) == 40 == releases
    assert (balance.available, balance.pending) == (10_000, 0)
    assert await audit(databases[0]) == []


async def test_reconciler_in_several_processes_creates_one_transfer_per_payout(
    databases: list[Database],
) -> None:
    org_id = await new_org(databases[0])
    await credit(databases[0], org_id, 20_000)
    policy = payouts.PayoutPolicy(retry_grace_seconds=0)
    ids = []
    for _ in range(10):
        payout = await request_unsubmitted(databases[0], org_id, policy, amount=1_500)
        ids.append(payout.id)
    # Nobody made the after-commit call (as if the process died): the reconcilers must.
    assert await reconciler.backlog(databases[0]) == 10
    await asyncio.gather(
        *(reconciler.reconcile_due(db, registry_for(db), policy) for db in databases)
    )
    async with databases[0].read() as session:
        rows = list(
            (await session.execute(sa.select(Payout).where(col(Payout.id).in_(ids)))).scalars()
        )
        transfers = list(
            (
                await session.execute(
                    sa.select(SandboxTransfer).where(
                        col(SandboxTransfer.idempotency_key).in_(
                            [p.provider_idempotency_key for p in rows]
                        )
                    )
                )
            ).scalars()
        )
    assert len(transfers) == 10
    assert await reconciler.backlog(databases[0]) == 0
    assert {p.provider_transfer_id for p in rows} == {t.id for t in transfers}
    assert all(t.amount == 1_500 for t in transfers)
    assert await audit(databases[0]) == []


async def test_transfer_event_before_acceptance_is_applied_when_recorded(
    databases: list[Database],
) -> None:
    db = databases[0]
    org_id = await new_org(db)
    await credit(db, org_id, 5_000)
    payout = await request_unsubmitted(db, org_id, payouts.PayoutPolicy())
    event = WebhookEvent(
        id="sbevt_early",
        type="transfer.updated",
        occurred_at=utcnow() - timedelta(seconds=1),
        livemode=False,
        object_kind="transfer",
        object_id="sbtr_early",
        data={"status": "paid"},
    )
    async with db.transaction() as session:
        result = await webhooks.ingest(session, "sandbox", event)
    assert result.applied is False
    async with db.transaction() as session:
        await reconciler.record_accepted(session, "sandbox", payout.id, "sbtr_early")
    async with db.read() as session:
        settled = await session.get(Payout, payout.id)
        balance = (
            await session.execute(sa.select(Balance).where(col(Balance.organization_id) == org_id))
        ).scalar_one()
    assert settled is not None and settled.status == "PAID"
    assert (balance.available, balance.in_transit, balance.paid_out) == (3_000, 0, 2_000)
    assert await audit(db) == []


class GiveUpDuringCall(SandboxProvider):
    """A provider that answers so late that the reconciler has given up meanwhile."""

    give_up: Any = None

    async def create_transfer(self, request: TransferRequest) -> Transfer:
        await self.give_up()
        return await super().create_transfer(request)


async def test_transfer_accepted_after_giving_up_is_canceled_and_funds_stay_returned(
    databases: list[Database],
) -> None:
    db = databases[0]
    org_id = await new_org(db)
    await credit(db, org_id, 5_000)
    policy = payouts.PayoutPolicy(max_attempts=1, retry_grace_seconds=0)
    payout = await request_unsubmitted(db, org_id, policy)
    base = registry_for(db).sandbox
    late = GiveUpDuringCall(db, base.config, is_postgres=not db.is_sqlite)
    late.give_up = lambda: reconciler.reconcile_due(db, ProviderRegistry(base), policy)
    accepted = await reconciler.submit(db, ProviderRegistry(late), policy, payout.id)
    async with db.read() as session:
        final = await session.get(Payout, payout.id)
        transfer = (
            await session.execute(
                sa.select(SandboxTransfer).where(
                    col(SandboxTransfer.idempotency_key) == payout.provider_idempotency_key
                )
            )
        ).scalar_one()
        balance = (
            await session.execute(sa.select(Balance).where(col(Balance.organization_id) == org_id))
        ).scalar_one()
    assert accepted is None
    assert final is not None and final.status == "FAILED"
    assert final.failure_code == "provider_unavailable"
    assert final.provider_transfer_id == transfer.id
    assert transfer.status == "canceled"
    assert (balance.available, balance.in_transit) == (5_000, 0)
    assert await audit(db) == []


async def exhaust_attempts(db: Database, registry: ProviderRegistry, policy: Any) -> None:
    for _ in range(policy.max_attempts + 2):
        await reconciler.reconcile_due(db, registry, policy)
        async with db.transaction() as session:  # make every leased payout due again
            await session.execute(sa.update(Payout).values(next_attempt_at=utcnow()))


async def test_out_of_attempts_adopts_a_transfer_the_provider_already_holds(
    databases: list[Database],
) -> None:
    db = databases[0]
    org_id = await new_org(db)
    await credit(db, org_id, 5_000)
    policy = payouts.PayoutPolicy(max_attempts=2, retry_grace_seconds=0)
    payout = await request_unsubmitted(db, org_id, policy)
    healthy = registry_for(db)
    # The provider created the transfer, then the process died before recording its id...
    await reconciler.submit(db, healthy, policy, payout.id)
    async with db.transaction() as session:
        row = await session.get(Payout, payout.id)
        assert row is not None
        created_id, row.provider_transfer_id = row.provider_transfer_id, None
        session.add(row)
    # ...and from then on the provider refuses every new transfer.
    refusing = dataclasses.replace(healthy.sandbox.config, refuse_transfers=True)
    outage = ProviderRegistry(SandboxProvider(db, refusing, is_postgres=not db.is_sqlite))
    await exhaust_attempts(db, outage, policy)
    async with db.read() as session:
        final = await session.get(Payout, payout.id)
        balance = (
            await session.execute(sa.select(Balance).where(col(Balance.organization_id) == org_id))
        ).scalar_one()
    assert final is not None and final.status == "PENDING"  # never refunded
    assert final.provider_transfer_id == created_id
    assert (balance.available, balance.in_transit) == (3_000, 2_000)
    assert await reconciler.backlog(db) == 0
    assert await audit(db) == []


class Unreachable(SandboxProvider):
    async def create_transfer(self, request: TransferRequest) -> Transfer:
        raise ProviderError("connection refused")

    async def find_transfer(self, idempotency_key: str) -> Transfer | None:
        raise ProviderError("connection refused")


async def test_out_of_attempts_keeps_funds_reserved_while_provider_cannot_answer(
    databases: list[Database],
) -> None:
    db = databases[0]
    org_id = await new_org(db)
    await credit(db, org_id, 5_000)
    policy = payouts.PayoutPolicy(max_attempts=2, retry_grace_seconds=0)
    payout = await request_unsubmitted(db, org_id, policy)
    config = registry_for(db).sandbox.config
    down = ProviderRegistry(Unreachable(db, config, is_postgres=not db.is_sqlite))
    await exhaust_attempts(db, down, policy)
    async with db.read() as session:
        stuck = await session.get(Payout, payout.id)
    assert stuck is not None and stuck.status == "PENDING"
    assert stuck.last_error == "connection refused"
    # Once the provider answers that it holds no transfer, the payout fails and funds return.
    await exhaust_attempts(db, registry_for(db), policy)
    async with db.read() as session:
        final = await session.get(Payout, payout.id)
        balance = (
            await session.execute(sa.select(Balance).where(col(Balance.organization_id) == org_id))
        ).scalar_one()
    assert final is not None and final.status == "FAILED"
    assert final.failure_code == "provider_unavailable"
    assert (balance.available, balance.in_transit) == (5_000, 0)
    assert await audit(db) == []


async def test_a_payout_whose_provider_is_no_longer_configured_is_never_given_up(
    databases: list[Database],
) -> None:
    """A payout stays with the provider it was requested from: when that provider disappears
    from the configuration (its transfer may exist there), nothing is refunded."""
    db = databases[0]
    org_id = await new_org(db)
    await credit(db, org_id, 5_000)
    policy = payouts.PayoutPolicy(max_attempts=2, retry_grace_seconds=0)
    payout = await request_unsubmitted(db, org_id, policy)
    async with db.transaction() as session:
        await session.execute(
            sa.update(Payout).where(col(Payout.id) == payout.id).values(provider="stripe")
        )
    await exhaust_attempts(db, registry_for(db), policy)
    async with db.read() as session:
        kept = await session.get(Payout, payout.id)
        transfers = await session.execute(sa.select(sa.func.count()).select_from(SandboxTransfer))
        balance = (
            await session.execute(sa.select(Balance).where(col(Balance.organization_id) == org_id))
        ).scalar_one()
    assert kept is not None and kept.status == "PENDING"
    assert "not configured" in (kept.last_error or "")
    assert transfers.scalar_one() == 0  # never sent to another provider
    assert (balance.available, balance.in_transit) == (3_000, 2_000)
    assert await audit(db) == []
