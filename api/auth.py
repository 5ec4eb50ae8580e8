"""API key authentication for HTTP requests and WebSocket connections."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from api.lean_pool import LeanPool
from services.client_sessions.service import ClientSessions
from services.client_sessions.tokens import ClientSession, is_client_session_token
from services.infra.database import Database
from services.organizations import api_keys
from services.organizations.api_keys import Viewer

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
    """Looks keys up by prefix on every request (a revocation applies to the next request) and
    refreshes ``last_used_at`` at most once a minute per key.

    On PostgreSQL the lookup runs on the lean asyncpg pool (``api/lean_pool.py``, shared with
    the rate limiter when given; else one of its own): one prepared statement, one round trip.
    SQLite keeps its session (our BEGIN hook owns its transactions).
    """

    def __init__(
        self,
        db: Database,
        pool: LeanPool | None = None,
        client_sessions: ClientSessions | None = None,
    ) -> None:
        self.db = db
        self.client_sessions = client_sessions
        self._touches: set[asyncio.Task[None]] = set()
        self._owns_pool = pool is None and not db.is_sqlite
        self._pool = LeanPool(db) if self._owns_pool else pool

    async def __call__(self, key: str | None) -> Viewer | None:
        if not key:
            return None
        if is_client_session_token(key):
            return self.client_session_viewer(key)
        found = await self._lookup(key)
        if found is None:
            return None
        viewer, stale = found
        if stale:
            task = asyncio.create_task(self._touch(viewer.api_key_id))
            self._touches.add(task)
            task.add_done_callback(self._touches.discard)
        return viewer

    async def keys_only(self, key: str | None) -> Viewer | None:
        """For edges that serve backends only (the REST API): a client session is refused
        there, since its scopes are enforced by the GraphQL schema alone."""
        if key and is_client_session_token(key):
            return None
        return await self(key)

    def client_session_viewer(self, token: str) -> Viewer | None:
        """A client session is checked in memory: signature, expiry, revocation (SPEC §3.12)."""
        if self.client_sessions is None:
            return None
        session = self.client_sessions.check(token)
        return None if session is None else viewer_of_session(session)

    async def _lookup(self, key: str) -> tuple[Viewer, bool] | None:
        if self.db.is_sqlite:
            async with self.db.read() as session:
                return await api_keys.authenticate(session, key)
        prefix = api_keys.lookup_prefix(key)
        if prefix is None:
            return None
        assert self._pool is not None
        row = await self._pool.fetchrow(api_keys.KEY_LOOKUP_SQL, prefix)
        return api_keys.verify_key_row(key, None if row is None else tuple(row))

    async def dispose(self) -> None:
        if self._owns_pool and self._pool is not None:
            await self._pool.close()

    async def _touch(self, api_key_id: str) -> None:
        try:
            async with self.db.transaction() as session:
                await api_keys.touch_key(session, api_key_id)
        except Exception:  # last_used_at is informative; never fail a request for it
            log.warning("could not record last use of key %s", api_key_id, exc_info=True)


def viewer_of_session(session: ClientSession) -> Viewer:
    return Viewer(
        organization_id=session.organization_id,
        organization_name=session.organization_name,
        country=session.country,
        currency=session.currency,
        livemode=session.livemode,
        api_key_id=session.api_key_id,  # the minting key's rate limit bucket
        scopes=session.scopes,
        expires_at=session.expires_at,
    )
