"""Client-session types (SPEC §3.12)."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from resolvers.errors import UserError
from services.client_sessions.tokens import DEFAULT_EXPIRES_SECONDS


@strawberry.enum(description="What a client session may do (SPEC §3.12).")
class ClientSessionScope(enum.Enum):
    PAYOUTS_READ = strawberry.enum_value(
        "PAYOUTS_READ",
        description="balance, balanceTransactions, payouts, payout, node for those objects, "
        "payoutUpdated, balanceUpdated.",
    )
    PAYOUTS_WRITE = strawberry.enum_value(
        "PAYOUTS_WRITE", description="requestPayout, cancelPayout."
    )
    ACCOUNT_READ = strawberry.enum_value(
        "ACCOUNT_READ",
        description="payoutAccount, bankAccounts, node for those objects, payoutAccountUpdated.",
    )
    ACCOUNT_WRITE = strawberry.enum_value(
        "ACCOUNT_WRITE", description="completeVerification, addBankAccount."
    )


@strawberry.type(description="A short-lived credential for one browser page.")
class ClientSession:
    token: str = strawberry.field(
        description="The token, `cs_test_…` or `cs_live_…`: send it like an API key. Shown once."
    )
    expires_at: datetime = strawberry.field(
        description="After it the token is refused, and a WebSocket using it is closed (4403)."
    )
    scopes: list[ClientSessionScope] = strawberry.field(
        description="The root fields the token may select (viewer is open to every token)."
    )
    livemode: bool


@strawberry.input
class CreateClientSessionInput:
    scopes: list[ClientSessionScope] = strawberry.field(
        description="What the page may do: at least one scope."
    )
    expires_in_seconds: int = strawberry.field(
        default=DEFAULT_EXPIRES_SECONDS, description="The token's lifetime: 10 to 3600 seconds."
    )


@strawberry.type
class CreateClientSessionPayload:
    client_session: ClientSession | None = strawberry.field(
        default=None, description="The new session; null when userErrors says why not."
    )
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
