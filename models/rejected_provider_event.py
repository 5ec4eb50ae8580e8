"""Signed provider webhooks we could not take (malformed): kept as received, for inspection."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import new_id, utc_column, utcnow


class RejectedProviderEvent(SQLModel, table=True):
    __tablename__ = "rejected_provider_events"

    id: str = Field(default_factory=lambda: new_id("rjevt"), primary_key=True, max_length=40)
    provider: str = Field(max_length=32)
    # The delivery's ``webhook-id`` header as received (printable ASCII only, cut to fit).
    webhook_id: str | None = Field(default=None, max_length=128)
    reason: str = Field(max_length=500)
    body: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))
    received_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
