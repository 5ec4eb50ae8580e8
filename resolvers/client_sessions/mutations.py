"""``createClientSession`` and ``revokeClientSessions`` (SPEC §3.12)."""

from __future__ import annotations

import strawberry

from resolvers.auth import require_viewer
from resolvers.client_sessions.types import (
    ClientSession,
    ClientSessionScope,
    CreateClientSessionInput,
    CreateClientSessionPayload,
    RevokeClientSessionsInput,
    RevokeClientSessionsPayload,
)
from resolvers.context import Info
from resolvers.errors import user_errors_from
from resolvers.mutations import run_mutation
from services.client_sessions.service import Minter, refuse_client_session
from services.errors import DomainError
from services.infra.database import Session
from services.organizations.api_keys import Viewer


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
            minted = info.context.services.client_sessions.mint(
                minter_of(viewer), [s.name for s in input.scopes], input.expires_in_seconds
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
    @run_mutation
    async def revoke_client_sessions(
        self, info: Info, input: RevokeClientSessionsInput, session: Session, viewer: Viewer
    ) -> RevokeClientSessionsPayload:
        refuse_client_session(viewer.scopes)
        revoked_before = info.context.services.client_sessions.revoke(session, minter_of(viewer))
        return RevokeClientSessionsPayload(revoked_before=revoked_before)
