"""graphql-transport-ws for client sessions and trusted documents (SPEC §3.12).

- A ``subscribe`` payload may name a trusted document (``documentId`` or
  ``extensions.persistedQuery.sha256Hash``) instead of carrying ``query``.
- A connection authenticated by a client-session token is closed with 4403 the moment the
  token expires or is revoked (the client mints a new session and resumes from its cursor).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.websockets import WebSocket, WebSocketState
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage

from api.trusted_documents import DOCUMENT_ID_KEY, SUBSCRIBE_REFERENCE
from api.ws_protocol import PayoutsTransportWSHandler
from services.organizations.api_keys import Viewer

SESSION_CLOSE_CODE = 4403
SESSION_ENDED_REASON = "Forbidden: client session expired or revoked; mint a new one"
# How often an open connection re-checks its token (revocation is honoured within this).
RECHECK_SECONDS = 0.5


def subscribe_reference(payload: dict[str, Any]) -> dict[str, Any] | None:
    reference: dict[str, Any] = {}
    extensions = payload.get("extensions")
    if isinstance(extensions, dict):
        reference.update(extensions)
    if payload.get(DOCUMENT_ID_KEY) is not None:
        reference[DOCUMENT_ID_KEY] = payload[DOCUMENT_ID_KEY]
    return reference or None


class TrustedDocumentsWSHandler(PayoutsTransportWSHandler):
    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        payload: Any = message.get("payload")
        if not isinstance(payload, dict):
            await super().handle_subscribe(message)
            return
        reference = subscribe_reference(payload)
        if reference is not None and payload.get("query") is None:
            payload["query"] = ""  # the document comes from the manifest (TrustedDocumentGate)
        # The operation's task copies this context when it is created inside the call below.
        token = SUBSCRIBE_REFERENCE.set(reference)
        try:
            await super().handle_subscribe(message)
        finally:
            SUBSCRIBE_REFERENCE.reset(token)


def watch_session(
    websocket: WebSocket, viewer: Viewer, still_valid: Callable[[], bool]
) -> asyncio.Task[None] | None:
    """Close ``websocket`` with 4403 once the session's token expires or is revoked."""
    if viewer.expires_at is None:
        return None
    task = asyncio.get_running_loop().create_task(
        _watch(websocket, viewer.expires_at, still_valid), name="client-session-watch"
    )
    websocket.state.client_session_watch = task
    return task


def stop_watching(websocket: WebSocket) -> None:
    task: asyncio.Task[None] | None = getattr(websocket.state, "client_session_watch", None)
    if task is not None:
        task.cancel()


async def _watch(
    websocket: WebSocket, expires_at: datetime, still_valid: Callable[[], bool]
) -> None:
    while True:
        remaining = (expires_at - datetime.now(UTC)).total_seconds()
        if remaining <= 0 or not still_valid():
            break
        await asyncio.sleep(min(remaining, RECHECK_SECONDS))
    if (
        websocket.application_state == WebSocketState.CONNECTED
        and websocket.client_state == WebSocketState.CONNECTED
    ):
        with contextlib.suppress(Exception):  # the client may be leaving at the same moment
            await websocket.close(code=SESSION_CLOSE_CODE, reason=SESSION_ENDED_REASON)
