"""The network guard for endpoint URLs (the same rules as the identity-document download).

``https`` only, a host, no credentials, and only public addresses (``services.infra.netguard``): a
literal address is checked at once, a name is resolved and every address it gives must be
public. The check runs when an endpoint is saved and again on every connection, against the
address actually connected to (``transport``), so a name that later points inward is refused at
delivery. ``allow_private`` (``PAYOUTS_WEBHOOK_ALLOW_PRIVATE_URLS``, development and tests
only) also admits ``http`` and loopback or private targets.
"""

from __future__ import annotations

import asyncio
import re
from urllib.parse import SplitResult, urlsplit

from models.webhook_endpoint import WEBHOOK_URL_MAX_LENGTH
from services.errors import DomainError, ErrorCode
from services.infra.netguard import (
    Resolver,
    is_public_address,
    parse_address,
    system_resolver,
)

FIELD = ("input", "url")
_HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?", re.IGNORECASE)
RESOLVE_TIMEOUT = 3.0


class UrlRejected(DomainError):
    def __init__(self, reason: str) -> None:
        super().__init__(ErrorCode.URL_REJECTED, f"url was refused: {reason}", FIELD)


def parse_url(url: str, *, allow_private: bool) -> SplitResult:
    """The URL's parts, or ``UrlRejected`` when its form alone disqualifies it."""
    if len(url) > WEBHOOK_URL_MAX_LENGTH:
        raise UrlRejected(f"longer than {WEBHOOK_URL_MAX_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        raise UrlRejected("it contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        raise UrlRejected("not a valid URL") from None
    allowed = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in allowed:
        raise UrlRejected("only https URLs are allowed")
    if not parts.hostname:
        raise UrlRejected("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UrlRejected("credentials in the URL are not allowed")
    if parts.fragment:
        raise UrlRejected("fragments are not allowed")
    try:
        ascii_host = parts.hostname.encode("idna").decode()
    except UnicodeError:
        raise UrlRejected("the host name is not valid") from None
    if parse_address(parts.hostname) is None and not _HOST_NAME.fullmatch(ascii_host):
        raise UrlRejected("the host name is not valid")
    if not allow_private:
        host = parts.hostname.lower().rstrip(".")
        if host == "localhost" or host.endswith(".localhost"):
            raise UrlRejected("loopback hosts are not allowed")
        literal = parse_address(host)
        if literal is not None and not is_public_address(literal):
            raise UrlRejected("the address is not public")
    return parts


async def check_url(url: str, *, allow_private: bool, resolver: Resolver = system_resolver) -> str:
    """The URL to store, once its form and (when it resolves now) its addresses pass.

    A name that does not resolve yet is accepted: deliveries check the address again and fail
    (and retry) until it resolves to a public one.
    """
    parts = parse_url(url.strip(), allow_private=allow_private)
    if not allow_private and parse_address(parts.hostname or "") is None:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT):
                found = await resolver(parts.hostname or "", port)
        except (OSError, TimeoutError, UnicodeError):
            found = []
        addresses = [parse_address(a) for a in found]
        if any(a is None or not is_public_address(a) for a in addresses):
            raise UrlRejected("the host resolves to a non-public address")
    return parts.geturl()
