"""Client-session tokens: ``cs_test_<JWT>`` / ``cs_live_<JWT>``, HS256-signed with PyJWT.

The JWT carries everything a request needs to act (organization, mode, scopes, the minting
key's id for its rate limit bucket, the organization's name, country and currency for
``viewer``), so checking a token costs one HMAC and no database round trip. Revocation is the
one piece of state, held in memory per process (``revocations.py``).
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt

TEST_PREFIX = "cs_test_"
LIVE_PREFIX = "cs_live_"
ALGORITHM = "HS256"
ISSUER = "payouts"
AUDIENCE = "payouts-client-session"
MIN_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key at least as long as the hash
MIN_EXPIRES_SECONDS = 10
MAX_EXPIRES_SECONDS = 3600
DEFAULT_EXPIRES_SECONDS = 900
# Far more than any real token (a few hundred bytes): refuse junk before decoding it.
MAX_TOKEN_LENGTH = 4096

PAYOUTS_READ = "PAYOUTS_READ"
PAYOUTS_WRITE = "PAYOUTS_WRITE"
ACCOUNT_READ = "ACCOUNT_READ"
ACCOUNT_WRITE = "ACCOUNT_WRITE"
SCOPES: tuple[str, ...] = (PAYOUTS_READ, PAYOUTS_WRITE, ACCOUNT_READ, ACCOUNT_WRITE)

_JWT_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
_REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "jti", "mode", "scp", "kid", "mnt"]


def is_client_session_token(credential: str) -> bool:
    return credential.startswith((TEST_PREFIX, LIVE_PREFIX))


@dataclass(frozen=True, slots=True)
class ClientSession:
    """What a verified token says."""

    organization_id: str
    organization_name: str
    country: str
    currency: str
    livemode: bool
    api_key_id: str
    scopes: frozenset[str]
    session_id: str
    minted_at_ms: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class MintedSession:
    token: str
    session: ClientSession


class ClientSessionSigner:
    def __init__(self, secret: str) -> None:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"the client session secret must be at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret

    def mint(
        self,
        *,
        organization_id: str,
        organization_name: str,
        country: str,
        currency: str,
        livemode: bool,
        api_key_id: str,
        scopes: Iterable[str],
        expires_in_seconds: int,
        now: float | None = None,
    ) -> MintedSession:
        now = time.time() if now is None else now
        minted_at_ms = int(now * 1000)
        expires = int(now) + expires_in_seconds
        chosen = sorted(set(scopes))
        session_id = "cs_" + secrets.token_urlsafe(12)
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": organization_id,
            "jti": session_id,
            "iat": int(now),
            "mnt": minted_at_ms,  # millisecond mint time: revocation compares with this
            "exp": expires,
            "mode": "live" if livemode else "test",
            "scp": chosen,
            "kid": api_key_id,
            "org": {"name": organization_name, "country": country, "currency": currency},
        }
        body = jwt.encode(claims, self._secret, algorithm=ALGORITHM)
        token = (LIVE_PREFIX if livemode else TEST_PREFIX) + body
        return MintedSession(
            token,
            ClientSession(
                organization_id=organization_id,
                organization_name=organization_name,
                country=country,
                currency=currency,
                livemode=livemode,
                api_key_id=api_key_id,
                scopes=frozenset(chosen),
                session_id=session_id,
                minted_at_ms=minted_at_ms,
                expires_at=datetime.fromtimestamp(expires, UTC),
            ),
        )

    def verify(self, token: str) -> ClientSession | None:
        """The session a genuine, unexpired token stands for; None for anything else."""
        if len(token) > MAX_TOKEN_LENGTH:
            return None
        if token.startswith(TEST_PREFIX):
            livemode, body = False, token[len(TEST_PREFIX) :]
        elif token.startswith(LIVE_PREFIX):
            livemode, body = True, token[len(LIVE_PREFIX) :]
        else:
            return None
        if not _JWT_SHAPE.match(body):
            return None
        try:
            claims = jwt.decode(
                body,
                self._secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": _REQUIRED_CLAIMS},
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        return _session_from(claims, livemode)


def _session_from(claims: dict[str, object], livemode: bool) -> ClientSession | None:
    mode, scopes, org = claims.get("mode"), claims.get("scp"), claims.get("org")
    if mode != ("live" if livemode else "test"):
        return None  # the prefix and the signed mode must agree
    if not isinstance(scopes, list) or not all(s in SCOPES for s in scopes):
        return None
    if not isinstance(org, dict):
        return None
    strings = (
        claims.get("sub"),
        claims.get("kid"),
        claims.get("jti"),
        org.get("name"),
        org.get("country"),
        org.get("currency"),
    )
    if not all(isinstance(value, str) for value in strings):
        return None
    minted, expires = claims.get("mnt"), claims.get("exp")
    if not isinstance(minted, int) or not isinstance(expires, int | float):
        return None
    return ClientSession(
        organization_id=str(claims["sub"]),
        organization_name=str(org["name"]),
        country=str(org["country"]),
        currency=str(org["currency"]),
        livemode=livemode,
        api_key_id=str(claims["kid"]),
        scopes=frozenset(scopes),
        session_id=str(claims["jti"]),
        minted_at_ms=minted,
        expires_at=datetime.fromtimestamp(expires, UTC),
    )
