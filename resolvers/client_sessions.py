"""``createClientSession`` and ``revokeClientSessions`` (SPEC §3.12)."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from resolvers.auth import require_viewer
from resolvers.context import Info
from resolvers.errors import UserError, user_errors_from
from resolvers.mutations import run_mutation
from services.api_keys import Viewer
from services.client_sessions.service import ClientSessions, Minter, refuse_client_session
from services.client_sessions.tokens import DEFAULT_EXPIRES_SECONDS
from services.errors import DomainError


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


def client_sessions_of(info: Info) -> ClientSessions:
    sessions: ClientSessions = info.context.services["client_sessions"]
    return sessions


def minter_of(viewer: Viewer) -> Minter:
    return Minter(
        organization_id=viewer.organization_id,
        organization_name=viewer.organization_name,
        country=viewer.country,
        currency=viewer.currency,
        livemode=viewer.livemode,
        api_key_id=viewer.api_key_id,
    )


@strawberry.type
class ClientSessionMutation:
    @strawberry.mutation(
        description="Mint a client session for a browser page (API keys only). Nothing is stored."
    )
    def create_client_session(
        self, info: Info, input: CreateClientSessionInput
    ) -> CreateClientSessionPayload:
        viewer = require_viewer(info)
        try:
            refuse_client_session(viewer.scopes)
            minted = client_sessions_of(info).mint(
                minter_of(viewer), [s.value for s in input.scopes], input.expires_in_seconds
            )
        except DomainError as error:
            return CreateClientSessionPayload(user_errors=user_errors_from(error))
        session = minted.session
        return CreateClientSessionPayload(
            client_session=ClientSession(
                token=minted.token,
                expires_at=session.expires_at,
                scopes=[ClientSessionScope(s) for s in sorted(session.scopes)],
                livemode=session.livemode,
            )
        )

    @strawberry.mutation(
        description="Refuse every client session of this organization and mode minted so far, "
        "in every server process within a second (API keys only)."
    )
    async def revoke_client_sessions(
        self, info: Info, input: RevokeClientSessionsInput
    ) -> RevokeClientSessionsPayload:
        sessions = client_sessions_of(info)

        async def action(session: AsyncSession, viewer: Viewer) -> RevokeClientSessionsPayload:
            refuse_client_session(viewer.scopes)
            return RevokeClientSessionsPayload(
                revoked_before=sessions.revoke(session, minter_of(viewer))
            )

        return await run_mutation(
            info,
            name="revokeClientSessions",
            input=input,
            payload=RevokeClientSessionsPayload,
            action=action,
        )
