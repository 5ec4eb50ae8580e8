"""Shared column types and helpers for every table: ids, UTC timestamps, money."""

from __future__ import annotations

import secrets
import string
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

_ALPHABET = string.ascii_letters + string.digits
ID_RANDOM_LENGTH = 24


def new_id(prefix: str) -> str:
    """An opaque, non-sequential id such as ``po_4fJk...`` (about 142 bits of randomness)."""
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(ID_RANDOM_LENGTH))


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no offset of its own)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utc_column(*, nullable: bool = False, index: bool = False) -> Any:
    """A column definition for ``sa_column=`` on SQLModel fields."""
    return sa.Column(UTCDateTime(), nullable=nullable, index=index)


def money_column(*, nullable: bool = False, default: int | None = None) -> Any:
    """Integer minor units (cents); 64-bit on every backend."""
    return sa.Column(sa.BigInteger(), nullable=nullable, default=default)
