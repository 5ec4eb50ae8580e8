"""``POST /webhooks/{provider}``: verify the signature on the raw body, then store and apply
the event in one transaction. Duplicates answer 2xx and change nothing.

On PostgreSQL an event whose object is not stored yet (its handler could not apply it) is
stored pending by one autocommit statement, with the events that arrive at the same time
(``services/provider_events/pending_batch.py``); only events about known objects open the
transaction. ``WebhookLane`` serves the route ahead of the CORS middleware and
the router (issue 16, case 4)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from api.client_errors import client_error
from api.outage import RETRY_AFTER_SECONDS, is_database_unavailable
from providers.base import ProviderError, WebhookIgnored, WebhookVerificationError
from providers.registry import ProviderRegistry
from services.provider_events import ingest as webhooks

log = logging.getLogger(__name__)
MAX_WEBHOOK_BYTES = 256 * 1024
PATH_PREFIX = "/webhooks/"


class WebhookLane:
    """Pure ASGI: ``POST /webhooks/{provider}`` straight to ``receive_webhook``, without the
    middlewares after this one (CORS: providers are servers, not browsers) and the router's
    matching of every route. Placed after the request id, metrics and body limit middlewares,
    which still see every webhook. Anything else (other methods, nested paths) goes on to the
    app, which answers as before."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            if path.startswith(PATH_PREFIX):
                name = path[len(PATH_PREFIX) :]
                if name and "/" not in name:
                    scope["path_params"] = {"provider": name}
                    response = await receive_webhook(Request(scope, receive))
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


async def receive_webhook(request: Request) -> JSONResponse:
    state = request.app.state.payouts
    registry: ProviderRegistry = state.services.providers
    name = request.path_params["provider"]
    provider = registry.by_name(name)
    if provider is None:
        return JSONResponse({"error": "unknown provider"}, status_code=404)
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BYTES:
        return JSONResponse({"error": "payload too large"}, status_code=413)
    try:
        event = provider.parse_webhook(request.headers, body)
    except WebhookVerificationError:
        # Stripe's convention is 400; the sandbox's (Standard Webhooks) 401.
        status = 400 if name == "stripe" else 401
        return JSONResponse({"error": "invalid or stale signature"}, status_code=status)
    except WebhookIgnored as exc:
        return JSONResponse({"received": True, "ignored": str(exc)})
    except RecursionError:
        # A JSON decoder recursing per nesting level (after the signature was verified).
        return await _reject_signed(state, name, request, body, "JSON nests too deeply")
    except ValueError as exc:
        return await _reject_signed(state, name, request, body, str(exc))
    current_event = getattr(provider, "current_event", None)
    if current_event is not None:
        # Re-read the object where its current state decides (events arrive out of order).
        try:
            event = await current_event(event)
        except WebhookIgnored as exc:
            return JSONResponse({"received": True, "ignored": str(exc)})
        except ProviderError:
            # Nothing stored: the provider redelivers the event later.
            return JSONResponse({"error": "provider unavailable, retry"}, status_code=503)
    if state.pending_events is not None:
        result = await state.pending_events.store(name, event)
        if result is not None:
            return JSONResponse(
                {"received": True, "duplicate": result.duplicate, "applied": result.applied}
            )
    try:
        async with state.db.transaction() as session:
            result = await webhooks.ingest(session, name, event)
    except IntegrityError:
        # A concurrent delivery of the same event committed first.
        return JSONResponse({"received": True, "duplicate": True, "applied": False})
    return JSONResponse(
        {"received": True, "duplicate": result.duplicate, "applied": result.applied}
    )


async def _reject_signed(
    state: Any, name: str, request: Request, body: bytes, reason: str
) -> JSONResponse:
    """A correctly signed event we cannot take: 400 (a 500 is retried for days), and the raw
    body kept for inspection."""
    client_error("malformed webhook", f"{name}: {reason}")
    try:
        async with state.db.transaction() as session:
            kept = await webhooks.keep_rejected(
                session, name, body, reason, request.headers.get("webhook-id")
            )
    except Exception as exc:
        if not is_database_unavailable(exc):
            raise
        # Not kept: ask the provider to deliver it again later.
        return JSONResponse(
            {"error": "temporarily unavailable"},
            status_code=503,
            headers={"retry-after": str(RETRY_AFTER_SECONDS)},
        )
    return JSONResponse({"error": "malformed event", "kept": kept}, status_code=400)
