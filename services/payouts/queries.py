"""Payout reads for the edges, each scoped to the asking tenant."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import BankAccount
from models.payout import Payout, PayoutStatus, PayoutStatusChange
from services.pagination import Page, keyset_rows
from services.scope import Tenant, in_scope

# What a payout list returns per row, read as Core rows (no ORM objects per row).
PAYOUT_COLUMNS = tuple(
    Payout.__table__.c[name]  # type: ignore[attr-defined]
    for name in [
        "id",
        "created_at",
        "livemode",
        "status",
        "amount",
        "fee",
        "net_amount",
        "currency",
        "description",
        "provider_transfer_id",
        "failure_code",
        "failure_message",
        "paid_at",
        "failed_at",
        "canceled_at",
        "bank_account_id",
    ]
)


async def list_payouts(
    session: AsyncSession,
    tenant: Tenant,
    *,
    status: PayoutStatus | None,
    first: int | None,
    after: str | None,
) -> Page[Any]:
    """Newest first (keyset over ``created_at, id``); rows carry ``PAYOUT_COLUMNS``."""
    stmt = sa.select(*PAYOUT_COLUMNS).where(in_scope(Payout, tenant))
    if status is not None:
        stmt = stmt.where(col(Payout.status) == status)
    return await keyset_rows(
        await session.connection(),
        stmt,
        col(Payout.created_at),
        col(Payout.id),
        first=first,
        after=after,
    )


async def bank_accounts_by_id(
    session: AsyncSession, tenant: Tenant, ids: list[str]
) -> dict[str, BankAccount]:
    stmt = sa.select(BankAccount).where(
        in_scope(BankAccount, tenant), col(BankAccount.id).in_(set(ids))
    )
    return {row.id: row for row in (await session.execute(stmt)).scalars()}


async def status_histories(
    session: AsyncSession, tenant: Tenant, payout_ids: list[str]
) -> dict[str, list[PayoutStatusChange]]:
    """Every payout's status changes, oldest first."""
    table = PayoutStatusChange
    stmt = (
        sa.select(table)
        .join(Payout, col(Payout.id) == col(table.payout_id))
        .where(col(table.payout_id).in_(payout_ids), in_scope(Payout, tenant))
        .order_by(col(table.created_at), col(table.id))
    )
    found: dict[str, list[PayoutStatusChange]] = {i: [] for i in payout_ids}
    for row in (await session.execute(stmt)).scalars():
        found[row.payout_id].append(row)
    return found
