"""The balance ledger: one balance row per organization, mode and currency, and its
append-only balance transactions (each a signed change of every bucket, with the balance
after it). A balance row always equals the sum of its entries; ``available`` is never negative.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import money_column, new_id, utc_column, utcnow

BUCKETS = ("available", "pending", "in_transit", "paid_out")


class BalanceTransactionType(enum.StrEnum):
    CREDIT = "CREDIT"  # funds received: +pending
    CREDIT_RELEASE = "CREDIT_RELEASE"  # pending → available
    PAYOUT = "PAYOUT"  # available → in transit (a payout was requested)
    PAYOUT_PAID = "PAYOUT_PAID"  # in transit → paid out
    PAYOUT_FAILED = "PAYOUT_FAILED"  # in transit → available
    PAYOUT_CANCELED = "PAYOUT_CANCELED"  # in transit → available
    PAYOUT_REVERSED = "PAYOUT_REVERSED"  # paid out → available (late bank return)


class Balance(SQLModel, table=True):
    __tablename__ = "balances"
    __table_args__ = (
        sa.UniqueConstraint("organization_id", "livemode", "currency", name="uq_balances_scope"),
        sa.CheckConstraint("available >= 0", name="ck_balances_available_nonnegative"),
        sa.CheckConstraint("pending >= 0", name="ck_balances_pending_nonnegative"),
        sa.CheckConstraint("in_transit >= 0", name="ck_balances_in_transit_nonnegative"),
        sa.CheckConstraint("paid_out >= 0", name="ck_balances_paid_out_nonnegative"),
    )

    id: str = Field(default_factory=lambda: new_id("bal"), primary_key=True, max_length=40)
    organization_id: str = Field(foreign_key="organizations.id", max_length=40)
    livemode: bool
    currency: str = Field(max_length=3)
    available: int = Field(default=0, sa_column=money_column(default=0))
    pending: int = Field(default=0, sa_column=money_column(default=0))
    in_transit: int = Field(default=0, sa_column=money_column(default=0))
    paid_out: int = Field(default=0, sa_column=money_column(default=0))
    # Number of entries so far: each entry takes the next value (gap-free per balance).
    entry_count: int = Field(default=0, sa_column=sa.Column(sa.BigInteger(), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class BalanceTransaction(SQLModel, table=True):
    """One ledger entry. Never updated or deleted."""

    __tablename__ = "balance_transactions"
    __table_args__ = (
        sa.UniqueConstraint("balance_id", "seq", name="uq_balance_transactions_balance_seq"),
        sa.Index(
            "ix_balance_transactions_scope_created",
            "organization_id",
            "livemode",
            "created_at",
            "id",
        ),
        sa.Index("ix_balance_transactions_source", "source_type", "source_id"),
    )

    id: str = Field(default_factory=lambda: new_id("txn"), primary_key=True, max_length=40)
    balance_id: str = Field(foreign_key="balances.id", max_length=40)
    seq: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))
    organization_id: str = Field(foreign_key="organizations.id", max_length=40)
    livemode: bool
    currency: str = Field(max_length=3)
    type: BalanceTransactionType = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    # Signed amount from the organization's point of view (+ funds coming, − funds leaving).
    amount: int = Field(sa_column=money_column())
    available_change: int = Field(default=0, sa_column=money_column(default=0))
    pending_change: int = Field(default=0, sa_column=money_column(default=0))
    in_transit_change: int = Field(default=0, sa_column=money_column(default=0))
    paid_out_change: int = Field(default=0, sa_column=money_column(default=0))
    available_after: int = Field(sa_column=money_column())
    pending_after: int = Field(sa_column=money_column())
    in_transit_after: int = Field(sa_column=money_column())
    paid_out_after: int = Field(sa_column=money_column())
    source_type: str = Field(max_length=32)  # "credit" | "payout"
    source_id: str = Field(max_length=40)
    description: str | None = Field(default=None, max_length=500)
    # For a CREDIT: when its funds become available.
    available_on: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class PendingRelease(SQLModel, table=True):
    """A job row: pending funds to move to available at ``release_at`` (claimed with
    ``SKIP LOCKED`` by the release job; ``released_at`` set in the releasing transaction)."""

    __tablename__ = "pending_releases"
    __table_args__ = (sa.Index("ix_pending_releases_due", "released_at", "release_at"),)

    id: str = Field(default_factory=lambda: new_id("rel"), primary_key=True, max_length=40)
    balance_id: str = Field(foreign_key="balances.id", max_length=40, index=True)
    credit_transaction_id: str = Field(
        foreign_key="balance_transactions.id", max_length=40, unique=True
    )
    amount: int = Field(sa_column=money_column())
    release_at: datetime = Field(sa_column=utc_column())
    released_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
