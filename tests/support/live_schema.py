"""A throwaway schema with one subscription built on ``resolvers.live.live_events``.

The stand-in object is the organization itself (the product's payout, payout account and balance
types live in other modules): its name changes between events, so a cached object would show an
old name.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import strawberry
import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from api.auth import Authenticator
from api.composition import build_services
from api.execution import PayoutsExecutionContext
from api.graphql_view import PayoutsGraphQL
from api.settings import Settings
from models import Organization
from resolvers.auth import require_viewer
from resolvers.context import Info
from resolvers.live.stream import LiveEvent, LiveEventFields, live_events
from services.infra.database import Database
from services.infra.events import PublishedEvent, record_event
from tests.support.live_server import free_port


@strawberry.type
class OrgView:
    id: strawberry.ID
    name: str


@strawberry.type
class OrgEvent(LiveEvent):
    organization: OrgView


async def load_org(session: AsyncSession, event: PublishedEvent) -> OrgView | None:
    row = await session.get(Organization, event.object_id)
    if row is None or row.id != event.organization_id:
        return None
    return OrgView(id=strawberry.ID(row.id), name=row.name)


def build_org_event(fields: LiveEventFields, org: OrgView) -> OrgEvent:
    return OrgEvent(**fields, organization=org)


@strawberry.type
class Query:
    ok: bool = True


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def organization_updated(
        self, info: Info, after: str | None = None
    ) -> AsyncGenerator[OrgEvent, None]:
        return await live_events(
            info,
            object_type="organization",
            after=after,
            load=load_org,
            build=build_org_event,
        )


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def rename_organization(self, info: Info, name: str) -> bool:
        """Changes the stand-in object through whichever server process receives it."""
        viewer = require_viewer(info)
        await rename(info.context.db, viewer.organization_id, name, viewer.livemode)
        return True


SCHEMA = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    execution_context_class=PayoutsExecutionContext,
)
SUBSCRIBE = """subscription ($after: String) {
  organizationUpdated(after: $after) { cursor type occurredAt organization { id name } }
}"""


async def rename(db: Database, organization_id: str, name: str, livemode: bool = False) -> None:
    """Change the stand-in object and record its event, in one transaction."""
    async with db.transaction() as session:
        row = await session.get(Organization, organization_id)
        assert row is not None
        row.name = name
        record_event(
            session,
            organization_id=organization_id,
            livemode=livemode,
            type="organization.renamed",
            object_type="organization",
            object_id=organization_id,
        )


@asynccontextmanager
async def serve_live_schema(db: Database, **settings: Any) -> AsyncIterator[str]:
    """The real GraphQL view over this schema, on a real uvicorn server; yields the ws:// URL."""
    config = Settings(database_url=db.url, **settings)
    authenticator = Authenticator(db)  # on PostgreSQL, its own asyncpg pool: closed below
    view = PayoutsGraphQL(
        SCHEMA,
        settings=config,
        db=db,
        authenticator=authenticator,
        services=build_services(config, db),
    )
    app = Starlette(routes=[WebSocketRoute("/graphql", view)])
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        await task
        await authenticator.dispose()
