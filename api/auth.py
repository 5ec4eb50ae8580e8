"""API key authentication for HTTP requests and WebSocket connections."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services import api_keys
from services.api_keys import Viewer
from services.database import Database

log = logging.getLogger(__name__)
# Fixed size: overflow connections are opened and closed per request under load (py-spy).
LOOKUP_POOL_SIZE = 10


def key_from_headers(headers: Mapping[str, str]) -> str | None:
    key = headers.get("x-api-key")
    if key:
        return key.strip()
    authorization = headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def key_from_connection_params(params: Any) -> str | None:
    if not isinstance(params, dict):
        return None
    lowered = {str(k).lower(): v for k, v in params.items() if isinstance(v, str)}
    return key_from_headers(lowered)


class Authenticator:
    """Looks keys up by prefix and refreshes ``last_used_at`` at most once a minute per key."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._touches: set[asyncio.Task[None]] = set()
        # PostgreSQL: a fixed pool of autocommit connections without pre-ping, so a lookup is
        # one round trip (the shared engine's pre-ping alone is BEGIN, ping, ROLLBACK). A
        # connection that died since its last use is retried once on a fresh one.
        # SQLite keeps its session (our BEGIN hook owns its transactions).
        self._lookups: AsyncEngine | None = None
        if not db.is_sqlite:
            self._lookups = create_async_engine(
                db.url,
                isolation_level="AUTOCOMMIT",
                pool_size=LOOKUP_POOL_SIZE,
                max_overflow=0,
                pool_pre_ping=False,
            )

    async def __call__(self, key: str | None) -> Viewer | None:
        if not key:
            return None
        found = await self._lookup(key)
        if found is None:
            return None
        viewer, stale = found
        if stale:
            task = asyncio.create_task(self._touch(viewer.api_key_id))
            self._touches.add(task)
            task.add_done_callback(self._touches.discard)
        return viewer

    async def _lookup(self, key: str) -> tuple[Viewer, bool] | None:
        if self._lookups is None:
            async with self.db.read() as session:
                return await api_keys.authenticate(session, key)
        try:
            async with self._lookups.connect() as connection:
                return await api_keys.authenticate(connection, key)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
        async with self._lookups.connect() as connection:
            return await api_keys.authenticate(connection, key)

    async def dispose(self) -> None:
        if self._lookups is not None:
            await self._lookups.dispose()

    async def _touch(self, api_key_id: str) -> None:
        try:
            async with self.db.transaction() as session:
                await api_keys.touch_key(session, api_key_id)
        except Exception:  # last_used_at is informative; never fail a request for it
            log.warning("could not record last use of key %s", api_key_id, exc_info=True)
