"""API key authentication for HTTP requests and WebSocket connections."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from services import api_keys
from services.api_keys import Viewer
from services.database import Database

log = logging.getLogger(__name__)


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
        # PostgreSQL: one autocommit statement per lookup, instead of BEGIN, SELECT, ROLLBACK
        # through an ORM session. SQLite keeps sessions (our BEGIN hook owns its transactions).
        self._autocommit = (
            None if db.is_sqlite else db.read_engine.execution_options(isolation_level="AUTOCOMMIT")
        )

    async def __call__(self, key: str | None) -> Viewer | None:
        if not key:
            return None
        if self._autocommit is not None:
            async with self._autocommit.connect() as connection:
                found = await api_keys.authenticate(connection, key)
        else:
            async with self.db.read() as session:
                found = await api_keys.authenticate(session, key)
        if found is None:
            return None
        viewer, stale = found
        if stale:
            task = asyncio.create_task(self._touch(viewer.api_key_id))
            self._touches.add(task)
            task.add_done_callback(self._touches.discard)
        return viewer

    async def _touch(self, api_key_id: str) -> None:
        try:
            async with self.db.transaction() as session:
                await api_keys.touch_key(session, api_key_id)
        except Exception:  # last_used_at is informative; never fail a request for it
            log.warning("could not record last use of key %s", api_key_id, exc_info=True)
