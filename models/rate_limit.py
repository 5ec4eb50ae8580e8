"""Token buckets of the per-API-key rate limit (used when Redis is not configured)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class RateLimitBucket(SQLModel, table=True):
    __tablename__ = "rate_limit_buckets"

    bucket_key: str = Field(sa_column=sa.Column(sa.String(200), primary_key=True))
    tokens: float = Field(sa_column=sa.Column(sa.Float(), nullable=False))
    # Seconds since the epoch of the last refill (floats: sub-second refills).
    updated_at: float = Field(sa_column=sa.Column(sa.Float(), nullable=False))
    granted: bool = Field(sa_column=sa.Column(sa.Boolean(), nullable=False))
