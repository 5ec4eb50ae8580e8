"""``plans``, ``planGroups`` and ``planGroup``, and the ``plan`` / ``plg`` nodes."""

from __future__ import annotations

import strawberry

from resolvers.auth import require_viewer
from resolvers.context import Info
from resolvers.node import Node
from resolvers.pagination import Connection, page_request_errors, to_connection
from resolvers.plans.types import Plan, PlanGroup
from services.organizations.api_keys import Viewer
from services.plans import service as plan_service


@strawberry.type
class PlanQuery:
    @strawberry.field(description="Your plans, newest first.")
    async def plans(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Plan]:
        viewer = require_viewer(info)
        with page_request_errors():
            async with info.context.db.read() as session:
                page = await plan_service.list_plans(session, viewer, first=first, after=after)
        return to_connection(page, Plan.from_row)

    @strawberry.field(description="Your plan groups, newest first, each with its plans.")
    async def plan_groups(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[PlanGroup]:
        viewer = require_viewer(info)
        with page_request_errors():
            async with info.context.db.read() as session:
                page = await plan_service.list_plan_groups(
                    session, viewer, first=first, after=after
                )
        return to_connection(page, PlanGroup.from_data)

    @strawberry.field(description="One of your plan groups; null when unknown or not yours.")
    async def plan_group(self, info: Info, id: strawberry.ID) -> PlanGroup | None:
        viewer = require_viewer(info)
        async with info.context.db.read() as session:
            found = await plan_service.get_plan_group(session, viewer, str(id))
        return PlanGroup.from_data(found) if found is not None else None


async def load_plan(info: Info, viewer: Viewer, node_id: str) -> Node | None:
    async with info.context.db.read() as session:
        row = await plan_service.get_plan(session, viewer, node_id)
    return Plan.from_row(row) if row is not None else None


async def load_plan_group(info: Info, viewer: Viewer, node_id: str) -> Node | None:
    async with info.context.db.read() as session:
        found = await plan_service.get_plan_group(session, viewer, node_id)
    return PlanGroup.from_data(found) if found is not None else None
