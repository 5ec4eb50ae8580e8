"""The event log: one row per state change, written in the changing transaction."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import new_id, utc_column, utcnow


class Event(SQLModel, table=True):
    __tablename__ = "events"
    __table_args__ = (sa.UniqueConstraint("organization_id", "seq", name="uq_events_org_seq"),)

    id: str = Field(default_factory=lambda: new_id("evt"), primary_key=True, max_length=40)
    organization_id: str = Field(foreign_key="organizations.id", max_length=40)
    livemode: bool
    seq: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))
    type: str = Field(max_length=64)
    object_type: str = Field(max_length=32)
    object_id: str = Field(max_length=40)
    occurred_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
