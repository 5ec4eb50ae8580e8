"""Provider webhook events: stored once per (provider, event id), then applied."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import new_id, utc_column, utcnow


class ProviderEvent(SQLModel, table=True):
    __tablename__ = "provider_events"
    __table_args__ = (
        sa.UniqueConstraint("provider", "event_id", name="uq_provider_events_provider_event"),
        sa.Index(
            "ix_provider_events_pending", "provider", "object_kind", "object_id", "applied_at"
        ),
    )

    id: str = Field(default_factory=lambda: new_id("pevt"), primary_key=True, max_length=40)
    provider: str = Field(max_length=32)
    event_id: str = Field(max_length=128)
    type: str = Field(max_length=64)
    livemode: bool
    object_kind: str = Field(max_length=32)
    object_id: str = Field(max_length=128)
    data: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    occurred_at: datetime = Field(sa_column=utc_column())
    received_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    applied_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
