"""Telling "the database cannot be reached" apart from a bug: the first is answered with 503
and ``Retry-After`` (the server recovers by itself when the database is back), the second with
a masked INTERNAL error."""

from __future__ import annotations

from asyncpg.exceptions import InterfaceError as PgInterfaceError
from asyncpg.exceptions import PostgresConnectionError
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

_UNAVAILABLE = (
    OSError,  # refused, reset, unreachable host (ConnectionError is one)
    TimeoutError,
    OperationalError,
    InterfaceError,
    DisconnectionError,
    PgInterfaceError,
    PostgresConnectionError,
)
RETRY_AFTER_SECONDS = 2


def is_database_unavailable(error: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, _UNAVAILABLE):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
