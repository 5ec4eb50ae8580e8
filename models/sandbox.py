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
