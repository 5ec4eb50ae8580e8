"""Client-session types (SPEC §3.12)."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from resolvers.errors import UserError
from services.client_sessions.tokens import DEFAULT_EXPIRES_SECONDS


@strawberry.enum(description="What a client session may do (SPEC §3.12).")
class ClientSessionScope(enum.Enum):
    PAYOUTS_READ = "PAYOUTS_READ"
    PAYOUTS_WRITE = "PAYOUTS_WRITE"
    ACCOUNT_READ = "ACCOUNT_READ"
    ACCOUNT_WRITE = "ACCOUNT_WRITE"


@strawberry.type(description="A short-lived credential for one browser page.")
class ClientSession:
    token: str = strawberry.field(
        description="cs_test_… / cs_live_…: send it like an API key. Shown once."
    )
    expires_at: datetime
    scopes: list[ClientSessionScope]
    livemode: bool


@strawberry.input
class CreateClientSessionInput:
    scopes: list[ClientSessionScope]
    expires_in_seconds: int = DEFAULT_EXPIRES_SECONDS


@strawberry.type
class CreateClientSessionPayload:
    client_session: ClientSession | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RevokeClientSessionsInput:
    idempotency_key: str | None = None


@strawberry.type
class RevokeClientSessionsPayload:
    revoked_before: datetime | None = strawberry.field(
        default=None,
        description="Every session of this organization and mode minted before it is refused.",
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)
