"""``viewer``: who the API key belongs to, and in which mode; the organization as a ``Node``."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers.auth import require_viewer
from resolvers.context import Info
from resolvers.node import Node
from services.organizations import api_keys
from services.organizations.api_keys import Viewer as ViewerData


def mode_of(livemode: bool) -> str:
    return "live" if livemode else "test"


@strawberry.type(
    description="A customer of the platform; it owns balances, payouts and plans.",
)
class Organization(Node):
    id: strawberry.ID
    livemode: bool = strawberry.field(
        description="The mode of the API key it was read with (the organization has both)."
    )
    name: str
    country: str
    currency: str

    # Read only when asked: the key lookup on every request does not carry it.
    @strawberry.field(description="When the organization was created (ISO 8601).")  # type: ignore[misc]
    async def created_at(self, info: Info) -> datetime:
        async with info.context.db.read() as session:
            return await api_keys.organization_created_at(session, str(self.id))

    @classmethod
    def of(cls, viewer: ViewerData) -> Organization:
        return cls(  # type: ignore[call-arg]  # created_at is the resolver above
            id=strawberry.ID(viewer.organization_id),
            livemode=viewer.livemode,
            name=viewer.organization_name,
            country=viewer.country,
            currency=viewer.currency,
        )


@strawberry.type(description="Who is calling: the API key's organization and mode.")
class Viewer:
    id: strawberry.ID = strawberry.field(
        description="Stable per organization and mode (a cache key; not a Node id)."
    )
    organization: Organization
    livemode: bool

    @classmethod
    def from_viewer(cls, viewer: ViewerData) -> Viewer:
        return cls(
            id=strawberry.ID(f"viewer_{viewer.organization_id}_{mode_of(viewer.livemode)}"),
            organization=Organization.of(viewer),
            livemode=viewer.livemode,
        )


async def load_organization(info: Info, viewer: ViewerData, node_id: str) -> Organization | None:
    # Only the caller's own organization is visible.
    return Organization.of(viewer) if node_id == viewer.organization_id else None


@strawberry.type
class ViewerQuery:
    @strawberry.field(description="The organization the API key belongs to, and the key's mode.")
    def viewer(self, info: Info) -> Viewer:
        return Viewer.from_viewer(require_viewer(info))
