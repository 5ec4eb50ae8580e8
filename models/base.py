"""Shared column types and helpers for every table: ids, UTC timestamps, money."""

from __future__ import annotations

import os
import string
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

M = TypeVar("M")

_ALPHABET = string.ascii_letters + string.digits
ID_RANDOM_LENGTH = 24
# Random bytes to characters by rejection sampling: the 248 byte values below 4 × 62 map onto
# the alphabet four times each (uniform); the 8 above are dropped. One ``os.urandom`` call and
# one ``bytes.translate`` per id instead of 24 ``secrets.choice`` calls (each its own urandom
# read and bit juggling: ~13 % of a requestPayout's CPU in the profile, ~11 ids per payout).
_USABLE_BYTES = 4 * len(_ALPHABET)
_TO_ALPHABET = bytes(ord(_ALPHABET[i % len(_ALPHABET)]) for i in range(256))
_REJECTED = bytes(range(_USABLE_BYTES, 256))
_DRAW = ID_RANDOM_LENGTH + 8  # 24 usable bytes out of 32 with probability > 1 - 1e-9


def _random_chars() -> str:
    chars = os.urandom(_DRAW).translate(_TO_ALPHABET, _REJECTED)
    while len(chars) < ID_RANDOM_LENGTH:
        chars += os.urandom(_DRAW).translate(_TO_ALPHABET, _REJECTED)
    return chars[:ID_RANDOM_LENGTH].decode("ascii")


def new_id(prefix: str) -> str:
    """An opaque, non-sequential id such as ``po_4fJk...`` (about 142 bits of randomness)."""
    return f"{prefix}_{_random_chars()}"


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


_COLUMN_NAMES: dict[type, frozenset[str]] = {}


def built_unsaved(model: type[M], values: dict[str, Any]) -> M:
    """A transient instance of a table model holding exactly ``values`` (every column, by
    attribute name), made as SQLAlchemy makes the instances it loads: ``__new__`` (SQLModel's
    sets the pydantic private attributes) and the instance state, then the values as its dict.
    SQLModel's table constructor sets each attribute through pydantic's and SQLAlchemy's
    ``__setattr__`` and validates nothing either, at several times the cost (~1 ms of a
    requestPayout's profile). For values a statement has already written, not for ``add``."""
    names = _COLUMN_NAMES.get(model)
    if names is None:
        names = _COLUMN_NAMES[model] = frozenset(
            attr.key for attr in sa.inspect(model).column_attrs
        )
    if values.keys() != names:
        raise ValueError(f"{model.__name__}: columns {sorted(names ^ values.keys())} differ")
    instance: M = sa.inspect(model).class_manager.new_instance()
    instance.__dict__.update(values)
    return instance
