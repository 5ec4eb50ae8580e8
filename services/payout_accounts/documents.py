"""The guarded download of an identity document (SPEC §3.2).

``https`` only, on port 443, no credentials in the URL. We resolve the host ourselves, refuse
unless *every* address is public (``services.infra.netguard``), and connect to the address we checked
(an httpcore network backend pins it; TLS still verifies the certificate for the host name, sent
as SNI and Host). Each redirect is a new URL that goes through the same checks (at most 3).
Timeouts per phase and overall; the body is streamed and cut at 10 MB; only PDF, JPEG and PNG
are accepted, recognised by their magic bytes (a declared Content-Type must agree).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import ssl
from dataclasses import dataclass
from urllib.parse import SplitResult, urljoin, urlsplit

import httpcore

from providers.base import Document
from services.errors import DomainError, ErrorCode
from services.infra.netguard import (
    Connector,
    GuardedBackend,
    Refusal,
    Resolver,
    direct_connector,
    system_resolver,
)

log = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 3
ALLOWED_PORTS = frozenset({443})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)
DECLARED_OK = frozenset({"application/pdf", "image/jpeg", "image/png", "application/octet-stream"})
FIELD = ("input", "documentUrl")


class DocumentRejected(DomainError):
    def __init__(self, reason: str) -> None:
        super().__init__(
            ErrorCode.DOCUMENT_URL_REJECTED, f"documentUrl was refused: {reason}", FIELD
        )


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int = MAX_BYTES
    max_redirects: int = MAX_REDIRECTS
    resolve_timeout: float = 5.0
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 30.0


_REFUSALS = {
    Refusal.UNRESOLVED: "the host does not resolve",
    Refusal.NO_ADDRESS: "the host resolves to a non-public address",
    Refusal.NON_PUBLIC: "the host resolves to a non-public address",
    Refusal.PORT: "only the default https port is allowed",
    Refusal.UNREACHABLE: "the host could not be reached",
    Refusal.UNIX_SOCKET: "unix sockets are not allowed",
}


def _refused(refusal: Refusal) -> DocumentRejected:
    return DocumentRejected(_REFUSALS[refusal])


class DocumentFetcher:
    """Production uses the defaults. Tests inject ``resolver``, ``connector`` and
    ``ssl_context`` to reach a local TLS server; every check still runs unchanged."""

    def __init__(
        self,
        *,
        resolver: Resolver = system_resolver,
        connector: Connector = direct_connector,
        ssl_context: ssl.SSLContext | None = None,
        limits: Limits | None = None,
    ) -> None:
        self._resolver = resolver
        self._connector = connector
        self._ssl_context = ssl_context
        self._limits = limits or Limits()

    async def fetch(self, url: str) -> Document:
        try:
            async with asyncio.timeout(self._limits.total_timeout):
                return await self._fetch(url)
        except TimeoutError:
            raise DocumentRejected("the download timed out") from None
        except httpcore.TimeoutException:
            raise DocumentRejected("the download timed out") from None
        except (httpcore.NetworkError, httpcore.ProtocolError, ssl.SSLError) as exc:
            log.info("document download failed: %s", type(exc).__name__)
            raise DocumentRejected("the document could not be downloaded") from None

    async def _fetch(self, url: str) -> Document:
        backend = GuardedBackend(
            resolver=self._resolver,
            connector=self._connector,
            refuse=_refused,
            resolve_timeout=self._limits.resolve_timeout,
            allowed_ports=ALLOWED_PORTS,
        )
        context = self._ssl_context or ssl.create_default_context()
        async with httpcore.AsyncConnectionPool(
            ssl_context=context, network_backend=backend, retries=0, max_connections=1
        ) as pool:
            for _ in range(self._limits.max_redirects + 1):
                target = _checked_url(url)
                location = await self._get(pool, target)
                if isinstance(location, Document):
                    return location
                url = urljoin(target.geturl(), location)
        raise DocumentRejected(f"more than {self._limits.max_redirects} redirects")

    async def _get(self, pool: httpcore.AsyncConnectionPool, target: SplitResult) -> Document | str:
        limits = self._limits
        timeouts = {
            "connect": limits.connect_timeout,
            "read": limits.read_timeout,
            "write": limits.read_timeout,
            "pool": limits.connect_timeout,
        }
        request_url = httpcore.URL(
            scheme=b"https",
            host=_ascii_host(target),
            port=target.port or 443,
            target=(target.path or "/").encode()
            + (b"?" + target.query.encode() if target.query else b""),
        )
        headers = [
            (b"accept", b"application/pdf, image/jpeg, image/png"),
            (b"user-agent", b"payouts-kyc/1"),
        ]
        async with pool.stream(
            "GET", request_url, headers=headers, extensions={"timeout": timeouts}
        ) as response:
            if response.status in REDIRECT_STATUSES:
                location = _header(response.headers, b"location")
                if not location:
                    raise DocumentRejected("a redirect without a location")
                return location
            if response.status != 200:
                raise DocumentRejected(f"the server answered HTTP {response.status}")
            declared = _declared_type(response.headers)
            body = await _read_limited(response, limits.max_bytes)
        return _document(body, declared)


def check_url_form(url: str) -> SplitResult:
    """The rules a URL must meet before anything is resolved or fetched: https, the default
    port, a host, no credentials. Also applied to URLs that are never fetched (the test-mode
    reserved host), so the same URL is refused or accepted in both modes."""
    parts = _checked_url(url)
    if parts.port not in (None, *ALLOWED_PORTS):
        raise DocumentRejected("only the default https port is allowed")
    return parts


def _checked_url(url: str) -> SplitResult:
    try:
        parts = urlsplit(url.strip())
        _ = parts.port
    except ValueError:
        raise DocumentRejected("not a valid URL") from None
    if parts.scheme != "https":
        raise DocumentRejected("only https URLs are allowed")
    if not parts.hostname:
        raise DocumentRejected("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise DocumentRejected("credentials in the URL are not allowed")
    return parts


def _ascii_host(target: SplitResult) -> bytes:
    host = target.hostname or ""
    try:
        return host.encode("idna")
    except UnicodeError:
        raise DocumentRejected("the host name is not valid") from None


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return None


def _declared_type(headers: list[tuple[bytes, bytes]]) -> str | None:
    length = _header(headers, b"content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BYTES:
        raise DocumentRejected("the document is larger than 10 MB")
    declared = _header(headers, b"content-type")
    if declared is None:
        return None
    media = declared.split(";", 1)[0].strip().lower()
    if media not in DECLARED_OK:
        raise DocumentRejected("only PDF, JPEG or PNG documents are accepted")
    return media


async def _read_limited(response: httpcore.Response, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_stream():
        size += len(chunk)
        if size > max_bytes:
            raise DocumentRejected("the document is larger than 10 MB")
        chunks.append(chunk)
    return b"".join(chunks)


def _document(body: bytes, declared: str | None) -> Document:
    detected = next((kind for magic, kind in MAGIC if body.startswith(magic)), None)
    if detected is None:
        raise DocumentRejected("only PDF, JPEG or PNG documents are accepted")
    if declared not in (None, "application/octet-stream", detected):
        raise DocumentRejected("the declared content type does not match the document")
    return Document(content=body, content_type=detected, sha256=hashlib.sha256(body).hexdigest())
