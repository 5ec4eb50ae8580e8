"""GraphQL types of plans and plan groups (and the batch loader of a plan's group)."""

from __future__ import annotations

import strawberry
from strawberry.dataloader import DataLoader

from models.plan import Plan as PlanRow
from resolvers.auth import require_viewer
from resolvers.context import Info
from resolvers.node import Node
from services.infra.database import Database
from services.organizations.api_keys import Viewer
from services.plans import service as plan_service


@strawberry.type(description="A plan, priced in a set of currencies; in at most one plan group.")
class Plan(Node):
    name: str
    code: str = strawberry.field(description="Unique per organization and mode; ^[a-z0-9_]+$.")
    currencies: list[str] = strawberry.field(
        description="Lowercase ISO 4217 codes, sorted; every plan of a group has the same set."
    )
    plan_group_id: strawberry.Private[str | None]

    @strawberry.field(description="The plan group this plan is in, if any.")
    async def plan_group(self, info: Info) -> PlanGroup | None:
        if self.plan_group_id is None:
            return None
        return await _group_loader(info).load(self.plan_group_id)

    @classmethod
    def from_row(cls, row: PlanRow) -> Plan:
        return cls(
            id=strawberry.ID(row.id),
            created_at=row.created_at,
            livemode=row.livemode,
            name=row.name,
            code=row.code,
            currencies=row.currency_list,
            plan_group_id=row.plan_group_id,
        )


@strawberry.type(description="A plan at its position in a plan group.")
class PlanGroupPlan:
    sort_order: int = strawberry.field(description="0 for the lowest tier; dense 0..n-1.")
    plan: Plan


@strawberry.type(description="An ordered set of plans (lowest tier first).")
class PlanGroup(Node):
    name: str
    description: str | None
    is_public: bool
    plans: list[PlanGroupPlan] = strawberry.field(description="Ordered by sortOrder.")

    @classmethod
    def from_data(cls, data: plan_service.GroupWithPlans) -> PlanGroup:
        group = data.group
        return cls(
            id=strawberry.ID(group.id),
            created_at=group.created_at,
            livemode=group.livemode,
            name=group.name,
            description=group.description,
            is_public=group.is_public,
            plans=[
                PlanGroupPlan(sort_order=index, plan=Plan.from_row(plan))
                for index, plan in enumerate(data.plans)
            ],
        )


def _group_loader(info: Info) -> DataLoader[str, PlanGroup | None]:
    """Batches ``Plan.planGroup`` lookups; uncached, so a WebSocket connection never sees a
    stale group from an earlier operation."""
    viewer = require_viewer(info)
    key = f"plan_group_loader:{viewer.organization_id}:{viewer.livemode}"
    loader: DataLoader[str, PlanGroup | None] | None = info.context.state.get(key)
    if loader is None:
        loader = DataLoader(load_fn=_batch_groups(info.context.db, viewer), cache=False)
        info.context.state[key] = loader
    return loader


def _batch_groups(db: Database, viewer: Viewer):  # type: ignore[no-untyped-def]
    async def load(ids: list[str]) -> list[PlanGroup | None]:
        async with db.read() as session:
            found = await plan_service.load_groups(session, viewer, ids)
        return [PlanGroup.from_data(found[i]) if i in found else None for i in ids]

    return load
