"""Payouts, their status history, and which status may follow which."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import money_column, new_id, utc_column, utcnow


class PayoutStatus(enum.StrEnum):
    PENDING = "PENDING"
    IN_TRANSIT = "IN_TRANSIT"
    PAID = "PAID"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


# The only moves a payout can make (applied by services/payouts/service.py alone).
PAYOUT_TRANSITIONS: dict[PayoutStatus, frozenset[PayoutStatus]] = {
    PayoutStatus.PENDING: frozenset(
        {PayoutStatus.IN_TRANSIT, PayoutStatus.FAILED, PayoutStatus.CANCELED}
    ),
    PayoutStatus.IN_TRANSIT: frozenset({PayoutStatus.PAID, PayoutStatus.FAILED}),
    PayoutStatus.PAID: frozenset({PayoutStatus.FAILED}),
    PayoutStatus.FAILED: frozenset(),
    PayoutStatus.CANCELED: frozenset(),
}


def transition_path(current: PayoutStatus, target: PayoutStatus) -> list[PayoutStatus] | None:
    """The shortest chain of allowed steps from ``current`` to ``target`` (excluding
    ``current``), or None when ``target`` is not ahead of ``current``."""
    frontier: list[list[PayoutStatus]] = [[current]]
    seen = {current}
    while frontier:
        nxt: list[list[PayoutStatus]] = []
        for path in frontier:
            for step in sorted(PAYOUT_TRANSITIONS[path[-1]]):
                if step == target:
                    return [*path[1:], step]
                if step not in seen:
                    seen.add(step)
                    nxt.append([*path, step])
        frontier = nxt
    return None


class Payout(SQLModel, table=True):
    __tablename__ = "payouts"
    __table_args__ = (
        sa.Index("ix_payouts_scope_created", "organization_id", "livemode", "created_at", "id"),
        sa.Index("ix_payouts_awaiting_provider", "provider_transfer_id", "next_attempt_at"),
        sa.CheckConstraint("amount > 0", name="ck_payouts_amount_positive"),
        sa.CheckConstraint("fee >= 0 AND net_amount > 0", name="ck_payouts_fee_net"),
    )

    id: str = Field(default_factory=lambda: new_id("po"), primary_key=True, max_length=40)
    organization_id: str = Field(foreign_key="organizations.id", max_length=40)
    livemode: bool
    balance_id: str = Field(foreign_key="balances.id", max_length=40)
    payout_account_id: str = Field(foreign_key="payout_accounts.id", max_length=40)
    bank_account_id: str = Field(foreign_key="bank_accounts.id", max_length=40)
    status: PayoutStatus = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    amount: int = Field(sa_column=money_column())
    fee: int = Field(sa_column=money_column())
    net_amount: int = Field(sa_column=money_column())
    currency: str = Field(max_length=3)
    description: str | None = Field(default=None, max_length=500)
    provider: str = Field(max_length=32)
    provider_idempotency_key: str = Field(max_length=255, unique=True)
    provider_transfer_id: str | None = Field(default=None, max_length=128, unique=True)
    # Attempts to have the provider accept the transfer; the reconciler retries when due.
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    last_error: str | None = Field(default=None, max_length=500)
    failure_code: str | None = Field(default=None, max_length=64)
    failure_message: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    paid_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    failed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    canceled_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class PayoutStatusChange(SQLModel, table=True):
    __tablename__ = "payout_status_changes"
    __table_args__ = (sa.Index("ix_payout_status_changes_payout", "payout_id", "created_at"),)

    id: str = Field(default_factory=lambda: new_id("pstc"), primary_key=True, max_length=40)
    payout_id: str = Field(foreign_key="payouts.id", max_length=40)
    from_status: PayoutStatus | None = Field(
        default=None, sa_column=sa.Column(sa.String(16), nullable=True)
    )
    to_status: PayoutStatus = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    # What caused it: "request", "webhook:<event id>", "cancel", "reconciler".
    source: str = Field(max_length=160)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
