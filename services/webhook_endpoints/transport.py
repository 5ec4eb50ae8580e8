"""Sends one delivery attempt: a POST through the URL guard, pinned to the checked address.

The host is resolved here and every address must be public (unless private targets are
allowed); the connection goes to an address that was checked, and TLS still verifies the
certificate for the host name. Redirects are not followed (a 3xx is a failed attempt). The
whole attempt has one deadline; only the first 1 KB of the answer is read and kept.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore

from models.webhook_endpoint import RESPONSE_BODY_MAX_BYTES
from services.infra.netguard import GuardedBackend, Refusal, Resolver, system_resolver
from services.webhook_endpoints.urls import RESOLVE_TIMEOUT, UrlRejected, parse_url


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    response_body: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _refused(refusal: Refusal) -> Exception:
    """A host the guard refuses fails the attempt with its reason (``UrlRejected``); one that
    gives no usable address or cannot be reached is a connection failure like any other."""
    if refusal in (Refusal.UNRESOLVED, Refusal.NO_ADDRESS):
        return httpcore.ConnectError("the host does not resolve")
    if refusal is Refusal.UNREACHABLE:
        return httpcore.ConnectError("no address of the host could be reached")
    if refusal is Refusal.UNIX_SOCKET:
        return UrlRejected("unix sockets are not allowed")
    assert refusal is Refusal.NON_PUBLIC, refusal  # no port rule for endpoints
    return UrlRejected("the host resolves to a non-public address")


class WebhookTransport:
    """One connection pool per process, shared by every endpoint."""

    def __init__(
        self,
        *,
        allow_private: bool,
        timeout_seconds: float = 10.0,
        max_connections: int = 64,
        resolver: Resolver = system_resolver,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._allow_private = allow_private
        self._timeout = timeout_seconds
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or ssl.create_default_context(),
            network_backend=GuardedBackend(
                resolver=resolver,
                refuse=_refused,
                resolve_timeout=RESOLVE_TIMEOUT,
                allow_private=allow_private,
            ),
            max_connections=max_connections,
            retries=0,
        )

    async def close(self) -> None:
        await self._pool.aclose()

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> AttemptOutcome:
        started = time.perf_counter()

        def done(**fields: Any) -> AttemptOutcome:
            elapsed = int((time.perf_counter() - started) * 1000)
            return AttemptOutcome(duration_ms=elapsed, **fields)

        try:
            parse_url(url, allow_private=self._allow_private)
            async with asyncio.timeout(self._timeout):
                status, answer = await self._send(url, body, headers)
        except UrlRejected as exc:
            return done(error=exc.message[:200])
        except (TimeoutError, httpcore.TimeoutException):
            return done(error=f"timeout: no answer within {self._timeout:g} s")
        except ssl.SSLError:
            return done(error="tls_error: the TLS handshake failed")
        except httpcore.ConnectError as exc:
            cause = exc.__cause__ if isinstance(exc.__cause__, UrlRejected) else None
            if cause is not None:
                return done(error=cause.message[:200])
            return done(error=f"connect_error: {str(exc)[:150] or 'connection refused'}")
        except (httpcore.NetworkError, httpcore.ProtocolError, OSError) as exc:
            return done(error=f"network_error: {type(exc).__name__}")
        return done(status_code=status, response_body=answer)

    async def _send(self, url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, str]:
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        request_url = httpcore.URL(
            scheme=parts.scheme.encode(),
            host=(parts.hostname or "").encode("idna"),
            port=parts.port,
            target=target.encode(),
        )
        timeouts = {"connect": self._timeout, "read": self._timeout, "write": self._timeout}
        raw_headers = [(k.encode(), v.encode()) for k, v in headers.items()]
        async with self._pool.stream(
            "POST",
            request_url,
            headers=raw_headers,
            content=body,
            extensions={"timeout": {**timeouts, "pool": self._timeout}},
        ) as response:
            kept = bytearray()
            async for chunk in response.aiter_stream():
                kept += chunk
                if len(kept) >= RESPONSE_BODY_MAX_BYTES:
                    break
        text = bytes(kept[:RESPONSE_BODY_MAX_BYTES]).decode("utf-8", errors="replace")
        return response.status, text
