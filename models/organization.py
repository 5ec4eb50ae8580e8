"""Organizations (merchants) and their API keys."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import new_id, utc_column, utcnow


class Organization(SQLModel, table=True):
    __tablename__ = "organizations"

    id: str = Field(default_factory=lambda: new_id("org"), primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    country: str = Field(default="US", max_length=2)
    currency: str = Field(default="usd", max_length=3)
    # Allocated under this row's lock so that per-organization events commit in sequence order.
    event_seq: int = Field(default=0, sa_column=sa.Column(sa.BigInteger(), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class ApiKey(SQLModel, table=True):
    """A secret key: only its hash is stored; ``lookup_prefix`` finds the row."""

    __tablename__ = "api_keys"

    id: str = Field(default_factory=lambda: new_id("key"), primary_key=True, max_length=40)
    organization_id: str = Field(foreign_key="organizations.id", index=True, max_length=40)
    livemode: bool
    lookup_prefix: str = Field(max_length=32, unique=True)
    key_hash: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    last_used_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    revoked_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
