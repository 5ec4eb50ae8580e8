"""``viewer``: who the API key belongs to, and in which mode."""

from __future__ import annotations

import strawberry

from resolvers.auth import require_viewer
from resolvers.context import Info
from services.organizations.api_keys import Viewer as ViewerData


@strawberry.type
class Organization:
    id: strawberry.ID
    name: str
    country: str
    currency: str


@strawberry.type
class Viewer:
    organization: Organization
    livemode: bool

    @classmethod
    def from_viewer(cls, viewer: ViewerData) -> Viewer:
        return cls(
            organization=Organization(
                id=strawberry.ID(viewer.organization_id),
                name=viewer.organization_name,
                country=viewer.country,
                currency=viewer.currency,
            ),
            livemode=viewer.livemode,
        )


@strawberry.type
class ViewerQuery:
    @strawberry.field(description="The organization the API key belongs to, and the key's mode.")
    def viewer(self, info: Info) -> Viewer:
        return Viewer.from_viewer(require_viewer(info))
