"""Organizations and API keys: keys are shown once, stored as a SHA-256 hash, found by a
lookup prefix and compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col

from models import ApiKey, Organization
from models.base import utcnow
from services.errors import DomainError, ErrorCode, validation_error
from services.infra.events import record_event
from services.payout_accounts.countries import ISO_COUNTRIES

TEST_PREFIX = "ck_test_"
LIVE_PREFIX = "ck_live_"
_SECRET_ALPHABET = string.ascii_letters + string.digits
SECRET_LENGTH = 40
LOOKUP_LENGTH = 12
LAST_USED_RESOLUTION = timedelta(minutes=1)
_KEY_PATTERN = re.compile(rf"^ck_(test|live)_([A-Za-z0-9]{{{SECRET_LENGTH}}})$")
# PostgreSQL: a revocation is announced on this channel when it commits (payload: the key id),
# so that every server process forgets the keys it cached (``api/auth.py``).
REVOCATION_CHANNEL = "payouts_api_key_revocations"


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    plaintext: str
    lookup_prefix: str
    key_hash: str
    livemode: bool


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is calling: one organization in one mode."""

    organization_id: str
    organization_name: str
    country: str
    currency: str
    livemode: bool
    api_key_id: str
    # A client session (SPEC §3.12) acts within these scopes until it expires; None for a key.
    scopes: frozenset[str] | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewOrganization:
    organization: Organization
    test_key: str
    live_key: str


def generate_key(livemode: bool) -> GeneratedKey:
    secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
    plaintext = (LIVE_PREFIX if livemode else TEST_PREFIX) + secret
    return GeneratedKey(plaintext, secret[:LOOKUP_LENGTH], hash_key(plaintext), livemode)


def hash_key(plaintext: str) -> str:
    # Keys carry ~238 bits of randomness, so a fast unsalted hash is enough (no brute force).
    return hashlib.sha256(plaintext.encode()).hexdigest()


def parse_key(plaintext: str) -> tuple[bool, str] | None:
    """(livemode, lookup prefix) of a well-formed key, else None."""
    match = _KEY_PATTERN.match(plaintext)
    if match is None:
        return None
    return match.group(1) == "live", match.group(2)[:LOOKUP_LENGTH]


async def create_organization(
    session: AsyncSession, *, name: str, country: str = "US", currency: str = "usd"
) -> NewOrganization:
    name = name.strip()
    if not name or len(name) > 200:
        raise validation_error("name must be 1 to 200 characters", "name")
    country = country.strip().upper()
    if country not in ISO_COUNTRIES:
        raise validation_error(
            "country must be an ISO 3166-1 alpha-2 code (US, GB, FR, ...)", "country"
        )
    org = Organization(name=name, country=country, currency=currency.lower())
    session.add(org)
    await session.flush()
    test_key = await _add_key(session, org.id, livemode=False)
    live_key = await _add_key(session, org.id, livemode=True)
    return NewOrganization(org, test_key, live_key)


async def _add_key(session: AsyncSession, organization_id: str, *, livemode: bool) -> str:
    key = generate_key(livemode)
    session.add(
        ApiKey(
            organization_id=organization_id,
            livemode=livemode,
            lookup_prefix=key.lookup_prefix,
            key_hash=key.key_hash,
        )
    )
    await session.flush()
    return key.plaintext


# Built once: constructing the statement per request showed up in the profile (bench case 1).
_KEY_LOOKUP = (
    sa.select(
        col(ApiKey.id),
        col(ApiKey.key_hash),
        col(ApiKey.livemode),
        col(ApiKey.revoked_at),
        col(ApiKey.last_used_at),
        col(Organization.id),
        col(Organization.name),
        col(Organization.country),
        col(Organization.currency),
    )
    .join(Organization, col(Organization.id) == col(ApiKey.organization_id))
    .where(col(ApiKey.lookup_prefix) == sa.bindparam("prefix"))
)


# The same lookup as plain SQL for a bare asyncpg connection (the authenticator's fast path).
KEY_LOOKUP_SQL = (
    "SELECT k.id, k.key_hash, k.livemode, k.revoked_at, k.last_used_at,"
    " o.id, o.name, o.country, o.currency"
    " FROM api_keys AS k JOIN organizations AS o ON o.id = k.organization_id"
    " WHERE k.lookup_prefix = $1"
)


async def authenticate(
    executor: AsyncSession | AsyncConnection, plaintext: str
) -> tuple[Viewer, bool] | None:
    """The viewer for a key, and whether its ``last_used_at`` is due for a refresh.

    ``executor`` is a session or a bare connection (one round trip, no ORM objects)."""
    prefix = lookup_prefix(plaintext)
    if prefix is None:
        return None
    row = (await executor.execute(_KEY_LOOKUP, {"prefix": prefix})).first()
    return verify_key_row(plaintext, None if row is None else tuple(row))


def lookup_prefix(plaintext: str) -> str | None:
    parsed = parse_key(plaintext)
    return None if parsed is None else parsed[1]


def verify_key_row(plaintext: str, row: Sequence[Any] | None) -> tuple[Viewer, bool] | None:
    """Check ``plaintext`` against a row of the key lookup (``_KEY_LOOKUP``/``KEY_LOOKUP_SQL``
    columns): hash, revocation and mode. Returns the viewer and whether a touch is due."""
    parsed = parse_key(plaintext)
    if parsed is None or row is None:
        return None
    key_id, key_hash, key_livemode, revoked_at, last_used_at, org_id, name, country, currency = row
    if not hmac.compare_digest(key_hash, hash_key(plaintext)):
        return None
    if revoked_at is not None or key_livemode != parsed[0]:
        return None
    viewer = Viewer(org_id, name, country, currency, key_livemode, key_id)
    stale = last_used_at is None or utcnow() - last_used_at > LAST_USED_RESOLUTION
    return viewer, stale


async def touch_key(session: AsyncSession, api_key_id: str) -> None:
    await session.execute(
        sa.update(ApiKey).where(col(ApiKey.id) == api_key_id).values(last_used_at=utcnow())
    )


async def revoke_key(session: AsyncSession, plaintext_or_id: str) -> ApiKey:
    """Revoke by the key itself or by its id (``key_...``)."""
    condition: Any
    if plaintext_or_id.startswith("key_"):
        condition = ApiKey.id == plaintext_or_id
    else:
        parsed = parse_key(plaintext_or_id)
        if parsed is None:
            raise validation_error("not an API key or key id", "key")
        condition = ApiKey.lookup_prefix == parsed[1]
    key = (await session.execute(sa.select(ApiKey).where(condition))).scalar_one_or_none()
    if key is None or (
        not plaintext_or_id.startswith("key_")
        and not hmac.compare_digest(key.key_hash, hash_key(plaintext_or_id))
    ):
        raise DomainError(ErrorCode.NOT_FOUND, "API key not found", ["key"])
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
        await session.flush()
        # Announced after commit: every server process closes the key's open WebSockets.
        record_event(
            session,
            organization_id=key.organization_id,
            livemode=key.livemode,
            type=KEY_REVOKED_EVENT,
            object_type="api_key",
            object_id=key.id,
        )
    if session.get_bind().dialect.name == "postgresql":
        # Transactional: delivered at commit, dropped on rollback. Not a money transaction.
        # Every server process empties its key cache (``api/auth.py``).
        await session.execute(
            sa.text("SELECT pg_notify(:channel, :key_id)"),
            {"channel": REVOCATION_CHANNEL, "key_id": key.id},
        )
    return key


KEY_REVOKED_EVENT = "api_key.revoked"


async def revoked_among(session: AsyncSession, key_ids: Sequence[str]) -> set[str]:
    """Which of these keys are revoked (or gone)."""
    if not key_ids:
        return set()
    live = await session.execute(
        sa.select(col(ApiKey.id)).where(
            col(ApiKey.id).in_(key_ids), col(ApiKey.revoked_at).is_(None)
        )
    )
    return set(key_ids) - set(live.scalars())


async def roll_key(session: AsyncSession, organization_id: str, *, livemode: bool) -> str:
    """A new key for the organization and mode (the old ones stay valid until revoked)."""
    org = await session.get(Organization, organization_id)
    if org is None:
        raise DomainError(ErrorCode.NOT_FOUND, "organization not found", ["organizationId"])
    return await _add_key(session, organization_id, livemode=livemode)


async def organization_created_at(session: AsyncSession, organization_id: str) -> datetime:
    result = await session.execute(
        sa.select(col(Organization.created_at)).where(col(Organization.id) == organization_id)
    )
    created: datetime = result.scalar_one()
    return created


async def organization_count(session: AsyncSession) -> int:
    return int(
        (await session.execute(sa.select(sa.func.count()).select_from(Organization))).scalar_one()
    )
