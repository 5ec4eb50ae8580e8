"""The event log: one row per state change, written in the changing transaction."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import new_id, utc_column, utcnow

# Every client-session token minted before this event's instant is refused. Each process reads
# the latest one per organization and mode at start and on every bus resync: a partial index
# keeps that read off the whole log, and costs nothing on the events money transactions write.
CLIENT_SESSIONS_REVOKED = "client_sessions.revoked"
_REVOCATIONS_ONLY = sa.text(f"type = '{CLIENT_SESSIONS_REVOKED}'")


class Event(SQLModel, table=True):
    __tablename__ = "events"
    __table_args__ = (
        sa.UniqueConstraint("organization_id", "seq", name="uq_events_org_seq"),
        sa.Index(
            "ix_events_client_session_revocations",
            "organization_id",
            "livemode",
            "occurred_at",
            postgresql_where=_REVOCATIONS_ONLY,
            sqlite_where=_REVOCATIONS_ONLY,
        ),
    )

    id: str = Field(default_factory=lambda: new_id("evt"), primary_key=True, max_length=40)
    organization_id: str = Field(foreign_key="organizations.id", max_length=40)
    livemode: bool
    seq: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))
    type: str = Field(max_length=64)
    object_type: str = Field(max_length=32)
    object_id: str = Field(max_length=40)
    occurred_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
