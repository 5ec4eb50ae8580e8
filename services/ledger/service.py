"""The balance ledger: every change of a balance is an append-only entry written in the same
transaction, under the balance row's lock, as the change itself.

On PostgreSQL the row is locked with ``SELECT … FOR UPDATE``; on SQLite every write transaction
already holds the single writer lock (``BEGIN IMMEDIATE``). ``available`` never goes negative:
we check under the lock, and a CHECK constraint backs it up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.base import new_id, utcnow
from models.ledger import (
    BUCKETS,
    Balance,
    BalanceTransaction,
    BalanceTransactionType,
    PendingRelease,
)
from services.errors import DomainError, ErrorCode, ValidationFailed
from services.infra.events import record_event
from services.organizations.api_keys import Viewer
from services.scope import Tenant, TenantId, locked, scoped

MAX_CREDIT = 10**12  # $10bn in cents: far above any test credit, far below 2^53
MAX_RELEASE_DELAY_SECONDS = 366 * 24 * 3600


class InsufficientBalance(DomainError):
    def __init__(self, available: int, wanted: int) -> None:
        super().__init__(
            ErrorCode.INSUFFICIENT_BALANCE,
            f"available balance {available} is less than {wanted}",
            ["input", "amount"],
        )


@dataclass(frozen=True, slots=True)
class BalanceView:
    """A balance as shown (zeros when no entry exists yet)."""

    id: str | None
    organization_id: str
    livemode: bool
    currency: str
    available: int
    pending: int
    in_transit: int
    paid_out: int

    @classmethod
    def of(cls, row: Balance) -> BalanceView:
        return cls(
            row.id,
            row.organization_id,
            row.livemode,
            row.currency,
            row.available,
            row.pending,
            row.in_transit,
            row.paid_out,
        )


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def lock_balance(
    session: AsyncSession, organization_id: str, livemode: bool, currency: str
) -> Balance:
    """The balance row, created if missing, locked until the transaction ends."""
    table = Balance.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert if _is_postgres(session) else sqlite.insert
    now = utcnow()
    await session.execute(
        insert(table)
        .values(
            id=new_id("bal"),
            organization_id=organization_id,
            livemode=livemode,
            currency=currency,
            available=0,
            pending=0,
            in_transit=0,
            paid_out=0,
            entry_count=0,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["organization_id", "livemode", "currency"])
    )
    tenant = TenantId(organization_id, livemode)
    return await _locked(session, scoped(Balance, tenant, col(Balance.currency) == currency))


async def lock_balance_by_id(session: AsyncSession, balance_id: str) -> Balance:
    return await _locked(session, sa.select(Balance).where(col(Balance.id) == balance_id))


async def _locked(session: AsyncSession, stmt: sa.Select[Any]) -> Balance:
    stmt = locked(stmt)
    # populate_existing: the identity map must not hand back a copy read before the lock.
    result = await session.execute(stmt.execution_options(populate_existing=True))
    row: Balance = result.scalars().one()
    return row


async def post_entry(
    session: AsyncSession,
    balance: Balance,
    *,
    type: BalanceTransactionType,
    amount: int,
    changes: dict[str, int],
    source_type: str,
    source_id: str,
    description: str | None = None,
    available_on: datetime | None = None,
    entry_id: str | None = None,
) -> BalanceTransaction:
    """Apply ``changes`` (bucket → signed cents) to a balance locked by this transaction and
    append the entry recording them."""
    unknown = set(changes) - set(BUCKETS)
    if unknown:
        raise ValueError(f"unknown balance buckets {sorted(unknown)}")
    after = {b: getattr(balance, b) + changes.get(b, 0) for b in BUCKETS}
    if after["available"] < 0:
        raise InsufficientBalance(balance.available, -changes.get("available", 0))
    negative = [b for b, v in after.items() if v < 0]
    if negative:
        raise RuntimeError(f"ledger would make {negative} negative on {balance.id}")
    now = utcnow()
    balance.entry_count += 1
    entry = BalanceTransaction(
        id=entry_id or new_id("txn"),
        balance_id=balance.id,
        seq=balance.entry_count,
        organization_id=balance.organization_id,
        livemode=balance.livemode,
        currency=balance.currency,
        type=type,
        amount=amount,
        available_change=changes.get("available", 0),
        pending_change=changes.get("pending", 0),
        in_transit_change=changes.get("in_transit", 0),
        paid_out_change=changes.get("paid_out", 0),
        available_after=after["available"],
        pending_after=after["pending"],
        in_transit_after=after["in_transit"],
        paid_out_after=after["paid_out"],
        source_type=source_type,
        source_id=source_id,
        description=description,
        available_on=available_on,
        created_at=now,
    )
    for bucket, value in after.items():
        setattr(balance, bucket, value)
    balance.updated_at = now
    session.add(balance)
    session.add(entry)
    await session.flush()
    record_event(
        session,
        organization_id=balance.organization_id,
        livemode=balance.livemode,
        type="balance.updated",
        object_type="balance",
        object_id=balance.id,
    )
    return entry


@dataclass(frozen=True, slots=True)
class CreditResult:
    transaction: BalanceTransaction
    balance: Balance


async def credit(
    session: AsyncSession,
    *,
    organization_id: str,
    livemode: bool,
    currency: str,
    amount: int,
    description: str | None,
    available_in_seconds: int,
) -> CreditResult:
    """Funds received as pending, released at their time (at once when the delay is 0)."""
    _check_credit(amount, description, available_in_seconds)
    balance = await lock_balance(session, organization_id, livemode, currency)
    release_at = utcnow() + timedelta(seconds=available_in_seconds)
    credit_id = new_id("txn")  # a test credit has no outside source: the entry is its own
    entry = await post_entry(
        session,
        balance,
        type=BalanceTransactionType.CREDIT,
        amount=amount,
        changes={"pending": amount},
        source_type="credit",
        source_id=credit_id,
        entry_id=credit_id,
        description=description,
        available_on=release_at,
    )
    pending_release = PendingRelease(
        balance_id=balance.id,
        credit_transaction_id=entry.id,
        amount=amount,
        release_at=release_at,
    )
    session.add(pending_release)
    await session.flush()
    if available_in_seconds == 0:
        await release(session, balance, pending_release)
    return CreditResult(entry, balance)


async def test_credit(
    session: AsyncSession,
    viewer: Viewer,
    *,
    amount: int,
    description: str | None,
    available_in_seconds: int,
) -> CreditResult:
    """Test mode only: credit the viewer's balance (``testCreditBalance``)."""
    if viewer.livemode:
        raise DomainError(ErrorCode.TEST_MODE_ONLY, "testCreditBalance needs a test key")
    return await credit(
        session,
        organization_id=viewer.organization_id,
        livemode=viewer.livemode,
        currency=viewer.currency,
        amount=amount,
        description=description,
        available_in_seconds=available_in_seconds,
    )


def _check_credit(amount: int, description: str | None, available_in_seconds: int) -> None:
    problems = []
    if amount < 1 or amount > MAX_CREDIT:
        problems.append(
            DomainError(
                ErrorCode.VALIDATION_ERROR,
                f"amount must be between 1 and {MAX_CREDIT}",
                ["input", "amount"],
            )
        )
    if description is not None and len(description) > 500:
        problems.append(
            DomainError(
                ErrorCode.VALIDATION_ERROR,
                "description must be at most 500 characters",
                ["input", "description"],
            )
        )
    if not 0 <= available_in_seconds <= MAX_RELEASE_DELAY_SECONDS:
        problems.append(
            DomainError(
                ErrorCode.VALIDATION_ERROR,
                f"availableInSeconds must be between 0 and {MAX_RELEASE_DELAY_SECONDS}",
                ["input", "availableInSeconds"],
            )
        )
    if problems:
        raise ValidationFailed(problems)


async def release(session: AsyncSession, balance: Balance, release: PendingRelease) -> None:
    entry = await post_entry(
        session,
        balance,
        type=BalanceTransactionType.CREDIT_RELEASE,
        amount=release.amount,
        changes={"pending": -release.amount, "available": release.amount},
        source_type="credit",
        source_id=release.credit_transaction_id,
    )
    release.released_at = utcnow()
    session.add(release)
    # Outbound webhooks: data.availableAmount is the entry's available_after (whole balance).
    record_event(
        session,
        organization_id=balance.organization_id,
        livemode=balance.livemode,
        type="payout.available",
        object_type="balance_transaction",
        object_id=entry.id,
    )


async def get_balance(
    session: AsyncSession, organization_id: str, livemode: bool, currency: str
) -> BalanceView:
    tenant = TenantId(organization_id, livemode)
    row = (
        await session.execute(scoped(Balance, tenant, col(Balance.currency) == currency))
    ).scalar_one_or_none()
    if row is None:
        return BalanceView(None, organization_id, livemode, currency, 0, 0, 0, 0)
    return BalanceView.of(row)


def transactions_query(organization_id: str, livemode: bool) -> sa.Select[Any]:
    return scoped(BalanceTransaction, TenantId(organization_id, livemode))


async def get_transaction(
    session: AsyncSession, tenant: Tenant, transaction_id: str
) -> BalanceTransaction | None:
    stmt = scoped(BalanceTransaction, tenant, col(BalanceTransaction.id) == transaction_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_balance_by_id(
    session: AsyncSession, tenant: Tenant, balance_id: str
) -> Balance | None:
    stmt = scoped(Balance, tenant, col(Balance.id) == balance_id)
    return (await session.execute(stmt)).scalar_one_or_none()
