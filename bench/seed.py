"""Seed data through the project's own services (so rows look exactly like real ones), and in
bulk where a read benchmark needs many rows (``payout_rows``/``insert_payouts``)."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from models import (
    BankAccount,
    BankAccountStatus,
    BusinessType,
    PayoutAccount,
    PayoutAccountStatus,
    SandboxAccount,
    SandboxExternalAccount,
)
from models.base import new_id, utcnow
from services.infra.database import Database
from services.ledger import service as ledger
from services.organizations import api_keys

# Settled statuses only: the reconciler and the sandbox leave such payouts alone.
SEEDED_STATUSES = ("IN_TRANSIT", "PAID", "PAID", "FAILED", "CANCELED")
FEE = 25


@dataclass(frozen=True)
class SeededOrg:
    organization_id: str
    test_key: str
    live_key: str


@dataclass(frozen=True)
class PayoutDestination:
    """What a payout row points at: the balance, the VERIFIED payout account, its bank."""

    organization_id: str
    balance_id: str
    payout_account_id: str
    bank_account_id: str


async def organizations(url: str, count: int, *, name: str = "Bench") -> list[SeededOrg]:
    db = Database(url)
    try:
        seeded = []
        async with db.transaction() as session:
            for index in range(count):
                created = await api_keys.create_organization(session, name=f"{name} {index}")
                seeded.append(
                    SeededOrg(created.organization.id, created.test_key, created.live_key)
                )
        return seeded
    finally:
        await db.dispose()


async def payout_ready(url: str, org_ids: list[str], *, funds: int) -> list[PayoutDestination]:
    """For each organization (test mode): a VERIFIED payout account with transfers enabled,
    known to the sandbox, a default active bank account, and ``funds`` cents available,
    credited through the ledger (so ``payouts verify-ledger`` holds)."""
    db = Database(url)
    try:
        ready = []
        async with db.transaction() as session:
            for org_id in org_ids:
                account_id, bank_id = await _verified_account(session, org_id)
                balance_id = ""
                remaining = funds
                while remaining > 0:
                    part = min(remaining, ledger.MAX_CREDIT)
                    credited = await ledger.credit(
                        session,
                        organization_id=org_id,
                        livemode=False,
                        currency="usd",
                        amount=part,
                        description="bench funds",
                        available_in_seconds=0,
                    )
                    balance_id = credited.balance.id
                    remaining -= part
                ready.append(PayoutDestination(org_id, balance_id, account_id, bank_id))
        return ready
    finally:
        await db.dispose()


async def _verified_account(session: AsyncSession, org_id: str) -> tuple[str, str]:
    sandbox_account = SandboxAccount(
        idempotency_key=new_id("bench"),
        livemode=False,
        status="verified",
        planned_status="verified",
        transfers_enabled=True,
        business_type="individual",
        email="bench@example.com",
    )
    session.add(sandbox_account)
    await session.flush()
    external = SandboxExternalAccount(
        account_id=sandbox_account.id, idempotency_key=new_id("bench"), last4="6789"
    )
    session.add(external)
    account = PayoutAccount(
        organization_id=org_id,
        livemode=False,
        status=PayoutAccountStatus.VERIFIED,
        transfers_enabled=True,
        business_type=BusinessType.INDIVIDUAL,
        email="bench@example.com",
        country="US",
        provider="sandbox",
        provider_account_id=sandbox_account.id,
        verified_at=utcnow(),
    )
    session.add(account)
    await session.flush()
    bank = BankAccount(
        organization_id=org_id,
        livemode=False,
        payout_account_id=account.id,
        holder_name="Bench Owner",
        last4="6789",
        fingerprint=hashlib.sha256(new_id("fp").encode()).hexdigest(),
        country="US",
        currency="usd",
        is_default=True,
        status=BankAccountStatus.ACTIVE,
        provider_external_account_id=external.id,
    )
    session.add(bank)
    await session.flush()
    return account.id, bank.id


@dataclass(frozen=True)
class PayoutRowData:
    """One seeded payout, written identically to the product's table and the baseline's."""

    id: str
    status: str
    amount: int
    fee: int
    description: str
    created_at: datetime
    paid_at: datetime | None


def payout_rows(count: int) -> list[PayoutRowData]:
    """``count`` plausible settled payouts over the last 30 days, in random insertion order."""
    start = datetime.now(UTC) - timedelta(days=30)
    rows = []
    for index in random.sample(range(count), count):
        status = SEEDED_STATUSES[index % len(SEEDED_STATUSES)]
        created = start + timedelta(seconds=index * 2, microseconds=index % 997)
        rows.append(
            PayoutRowData(
                id=new_id("po"),
                status=status,
                amount=1000 + index,
                fee=FEE,
                description=f"payout {index}",
                created_at=created,
                paid_at=created + timedelta(days=1) if status == "PAID" else None,
            )
        )
    return rows


async def insert_payouts(dsn: str, to: PayoutDestination, rows: list[PayoutRowData]) -> None:
    """Bulk-insert ``rows`` into the product's ``payouts`` (COPY). Read benchmarks only: the
    ledger has no entries for them."""
    columns = [
        "id",
        "organization_id",
        "livemode",
        "balance_id",
        "payout_account_id",
        "bank_account_id",
        "status",
        "amount",
        "fee",
        "net_amount",
        "currency",
        "description",
        "provider",
        "provider_idempotency_key",
        "provider_transfer_id",
        "attempts",
        "next_attempt_at",
        "last_error",
        "failure_code",
        "failure_message",
        "created_at",
        "updated_at",
        "paid_at",
        "failed_at",
        "canceled_at",
    ]
    records = [
        (
            r.id, to.organization_id, False, to.balance_id, to.payout_account_id,
            to.bank_account_id, r.status, r.amount, r.fee, r.amount - r.fee, "usd",
            r.description, "sandbox", f"payout_{r.id}", f"sbtr_seed{r.id[3:]}", 1, None, None,
            "account_closed" if r.status == "FAILED" else None,
            "The destination bank account is closed." if r.status == "FAILED" else None,
            r.created_at, r.paid_at or r.created_at, r.paid_at,
            r.created_at + timedelta(days=1) if r.status == "FAILED" else None,
            r.created_at + timedelta(minutes=5) if r.status == "CANCELED" else None,
        )
        for r in rows
    ]  # fmt: skip
    connection = await asyncpg.connect(dsn)
    try:
        await connection.copy_records_to_table("payouts", records=records, columns=columns)
        await connection.execute("ANALYZE payouts")
    finally:
        await connection.close()
