"""Tables of the sandbox provider: its own state, as a real provider would keep it."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import new_id, utc_column, utcnow


class SandboxWebhookDelivery(SQLModel, table=True):
    """An outbound webhook of the sandbox: a row, so deliveries survive restarts."""

    __tablename__ = "sandbox_webhook_deliveries"
    __table_args__ = (sa.Index("ix_sandbox_deliveries_due", "delivered_at", "deliver_at"),)

    id: str = Field(default_factory=lambda: new_id("sbwh"), primary_key=True, max_length=40)
    event_id: str = Field(max_length=64, unique=True)
    event_type: str = Field(max_length=64)
    object_id: str = Field(max_length=64, index=True)
    payload: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    deliver_at: datetime = Field(sa_column=utc_column())
    attempts: int = 0
    lease_until: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    delivered_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    canceled_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class SandboxAccount(SQLModel, table=True):
    """A connected account as the sandbox provider keeps it (its outcome decided at creation)."""

    __tablename__ = "sandbox_accounts"

    id: str = Field(default_factory=lambda: new_id("sbacct"), primary_key=True, max_length=40)
    idempotency_key: str = Field(max_length=255, unique=True)
    livemode: bool
    status: str = Field(max_length=32)  # sandbox vocabulary: pending|verified|restricted|rejected
    # Where verification ends when the sandbox's webhook fires ("verified" or "rejected").
    planned_status: str = Field(max_length=32)
    transfers_enabled: bool = False
    business_type: str = Field(max_length=16)
    email: str = Field(max_length=254)
    document_sha256: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class SandboxExternalAccount(SQLModel, table=True):
    """A destination bank account at the sandbox; only last4 and the derived outcome are kept."""

    __tablename__ = "sandbox_external_accounts"

    id: str = Field(default_factory=lambda: new_id("sbba"), primary_key=True, max_length=40)
    account_id: str = Field(foreign_key="sandbox_accounts.id", index=True, max_length=40)
    idempotency_key: str = Field(max_length=255, unique=True)
    last4: str = Field(max_length=4)
    bank_name: str | None = Field(default=None, max_length=200)
    status: str = Field(default="active", max_length=16)  # active|errored
    # Account numbers ending 0002 fail every transfer with account_closed.
    fails_transfers: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class SandboxTransfer(SQLModel, table=True):
    """A transfer at the sandbox; settled by the sandbox's own scheduled webhooks."""

    __tablename__ = "sandbox_transfers"

    id: str = Field(default_factory=lambda: new_id("sbtr"), primary_key=True, max_length=40)
    idempotency_key: str = Field(max_length=255, unique=True)
    livemode: bool
    account_id: str = Field(foreign_key="sandbox_accounts.id", index=True, max_length=40)
    external_account_id: str = Field(foreign_key="sandbox_external_accounts.id", max_length=40)
    amount: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))
    currency: str = Field(max_length=3)
    status: str = Field(max_length=16)  # pending|in_transit|paid|failed|canceled
    failure_code: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
