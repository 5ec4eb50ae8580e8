"""Minting, checking and revoking client sessions: the rules of SPEC §3.12 in one place."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from services.client_sessions.revocations import RevocationList, record_revocation
from services.client_sessions.tokens import (
    MAX_EXPIRES_SECONDS,
    MIN_EXPIRES_SECONDS,
    SCOPES,
    ClientSession,
    ClientSessionSigner,
    MintedSession,
)
from services.errors import DomainError, ErrorCode, validation_error


@dataclass(frozen=True, slots=True)
class Minter:
    """Who asks for a session: an API key's organization and mode."""

    organization_id: str
    organization_name: str
    country: str
    currency: str
    livemode: bool
    api_key_id: str


# Tokens verified recently, by their exact text: a page sends the same token with every
# request, so the JWT is decoded once and then only its expiry and revocation are checked.
VERIFIED_CACHE_SIZE = 10_000


@dataclass
class ClientSessions:
    signer: ClientSessionSigner
    revocations: RevocationList = field(default_factory=RevocationList)
    _verified: OrderedDict[str, ClientSession] = field(default_factory=OrderedDict, repr=False)

    def mint(self, minter: Minter, scopes: Sequence[str], expires_in_seconds: int) -> MintedSession:
        if not scopes:
            raise validation_error("give at least one scope", "input", "scopes")
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown:
            raise validation_error(f"unknown scopes {unknown}", "input", "scopes")
        if not MIN_EXPIRES_SECONDS <= expires_in_seconds <= MAX_EXPIRES_SECONDS:
            raise validation_error(
                f"expiresInSeconds must be from {MIN_EXPIRES_SECONDS} to {MAX_EXPIRES_SECONDS}",
                "input",
                "expiresInSeconds",
            )
        return self.signer.mint(
            organization_id=minter.organization_id,
            organization_name=minter.organization_name,
            country=minter.country,
            currency=minter.currency,
            livemode=minter.livemode,
            api_key_id=minter.api_key_id,
            scopes=scopes,
            expires_in_seconds=expires_in_seconds,
        )

    def check(self, token: str) -> ClientSession | None:
        """The session of a genuine, unexpired, unrevoked token; no database round trip."""
        session = self._verified.get(token)
        if session is None:
            session = self.signer.verify(token)
            if session is None:
                return None  # junk is never remembered
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
            self._verified[token] = session
        if session.expires_at <= datetime.now(UTC):
            self._verified.pop(token, None)
            return None
        if self.revocations.is_revoked(session):
            return None
        return session

    def revoke(self, session: AsyncSession, minter: Minter) -> datetime:
        """Queue the revocation in the caller's transaction; every token of the organization
        and mode minted before the returned instant is refused once it commits."""
        revoked_before = utcnow()
        record_revocation(session, organization_id=minter.organization_id, livemode=minter.livemode)
        return revoked_before


def refuse_client_session(scopes: frozenset[str] | None) -> None:
    """Only an API key may mint or revoke sessions (the scope gate refuses tokens first)."""
    if scopes is not None:
        raise DomainError(ErrorCode.VALIDATION_ERROR, "only an API key may manage client sessions")
