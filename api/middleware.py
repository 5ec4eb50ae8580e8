"""Pure ASGI middleware: request ids on every response, a request body size cap and deadline."""

from __future__ import annotations

import asyncio
import re
import secrets
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.client_errors import client_error

_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def request_id_of(scope: Scope) -> str:
    state = scope.setdefault("state", {})
    request_id = state.get("request_id")
    if request_id is None:
        request_id = state["request_id"] = "req_" + secrets.token_hex(12)
    return str(request_id)


class RequestIdMiddleware:
    """Uses a well-formed incoming ``x-request-id`` or makes one; echoes it on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        state = scope.setdefault("state", {})
        if incoming and _INCOMING_ID.match(incoming):
            state["request_id"] = incoming
        request_id = request_id_of(scope).encode()
        if scope["type"] == "websocket":
            # No ``http.response.start`` on a WebSocket: its frames go out unwrapped.
            await self.app(scope, receive, send)
            return

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)


class BodyLimitMiddleware:
    """Refuses HTTP request bodies over ``max_bytes`` with 413 before the app reads them, and
    bodies that do not arrive in full within ``timeout_seconds`` with 408 (a client trickling a
    body would otherwise hold its connection, and a worker's attention, for ever)."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_seconds: float = 10.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _too_large(send, scope)
            return
        received = 0
        limit = self.max_bytes
        deadline = asyncio.get_running_loop().time() + self.timeout
        body_complete = False

        async def counting_receive() -> Message:
            nonlocal received, body_complete
            if body_complete:  # waiting for a disconnect after the body: not ours to time
                return await receive()
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                # asyncio.timeout, not wait_for: no task per message (issue 16).
                async with asyncio.timeout(max(remaining, 0.001)):
                    message = await receive()
            except TimeoutError:
                raise _BodyTimedOut from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
                body_complete = not message.get("more_body", False)
            return message

        try:
            await self.app(scope, counting_receive, send)
        except BodyTooLarge:
            await _too_large(send, scope)
        except _BodyTimedOut:
            client_error("slow body", f"request body not complete after {self.timeout:g} s")
            await _refuse(send, scope, 408, "request_timeout", b"request body not received in time")


class BodyRefused(Exception):
    """Raised through the app while it reads the body; answered here (apps must let it pass,
    or answer it themselves, as /api/v1 does for a body too large)."""


class BodyTooLarge(BodyRefused):
    pass


class _BodyTimedOut(BodyRefused):
    pass


async def _too_large(send: Send, scope: Scope) -> None:
    await _refuse(send, scope, 413, "request_too_large", b"request body too large")


async def _refuse(send: Send, scope: Scope, status: int, code: str, message: bytes) -> None:
    if str(scope.get("path", "")).startswith("/api/v1/"):  # the REST API's error envelope
        body = (
            b'{"success":false,"error":{"type":"validation_error","code":"%s",'
            b'"message":"%s","param":null,"details":null,"doc_url":null}}'
            % (code.encode(), message)
        )
    else:
        body = b'{"errors":[{"message":"%s","extensions":{"code":"BAD_USER_INPUT"}}]}' % message
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if status == 408:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    headers: Any = scope.get("headers") or []
    for key, value in headers:
        if key == name:
            return str(value.decode("latin-1"))
    return None
