"""Stored idempotency keys: request fingerprint plus the payload that answered it."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import utc_column, utcnow


class IdempotencyStatus(enum.StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_keys"

    organization_id: str = Field(foreign_key="organizations.id", primary_key=True, max_length=40)
    livemode: bool = Field(primary_key=True)
    key: str = Field(primary_key=True, max_length=255)
    mutation: str = Field(max_length=64)
    fingerprint: str = Field(max_length=64)
    status: IdempotencyStatus = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    response: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(index=True))
    locked_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
