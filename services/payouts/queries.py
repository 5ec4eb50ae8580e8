"""Payout reads for the edges, each scoped to the asking tenant."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import BankAccount
from models.payout import Payout, PayoutStatus, PayoutStatusChange
from services.infra.database import Database
from services.pagination import KeysetQuery, Page
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


_PAGES: dict[bool, KeysetQuery] = {}


async def list_payouts(
    db: Database,
    tenant: Tenant,
    *,
    status: PayoutStatus | None,
    first: int | None,
    after: str | None,
) -> Page[Any]:
    """Newest first (keyset over ``created_at, id``); rows carry ``PAYOUT_COLUMNS``. One
    statement built once, one round trip outside any transaction (``Database.read_rows``)."""
    query = _PAGES.get(status is not None)
    if query is None:
        base = sa.select(*PAYOUT_COLUMNS).where(
            col(Payout.organization_id) == sa.bindparam("organization_id"),
            col(Payout.livemode) == sa.bindparam("livemode"),
        )
        if status is not None:
            base = base.where(col(Payout.status) == sa.bindparam("status"))
        query = KeysetQuery(base, col(Payout.created_at), col(Payout.id))
        _PAGES[status is not None] = query
    params: dict[str, Any] = {
        "organization_id": tenant.organization_id,
        "livemode": tenant.livemode,
    }
    if status is not None:
        params["status"] = status.value
    return await query.page(db, params, first=first, after=after)


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
