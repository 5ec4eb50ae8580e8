"""Plan and plan group mutations; each runs through ``run_mutation`` (auth, idempotency, one
transaction, ``DomainError`` → ``userErrors`` with nothing changed)."""

from __future__ import annotations

import strawberry

from resolvers.context import Info
from resolvers.errors import UserError
from resolvers.mutations import idempotency_key_field, run_mutation
from resolvers.plans.types import Plan, PlanGroup
from services.infra.database import Session
from services.organizations.api_keys import Viewer
from services.plans import groups as plan_groups
from services.plans import service as plans


@strawberry.input
class CreatePlanInput:
    name: str
    code: str = strawberry.field(description="Unique per organization and mode; ^[a-z0-9_]+$.")
    currencies: list[str] = strawberry.field(description="ISO 4217 codes, at least one.")
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input
class CreatePlanGroupInput:
    name: str
    description: str | None = None
    is_public: bool = False
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="Only the fields given change.")
class UpdatePlanGroupInput:
    plan_group_id: strawberry.ID
    name: str | None = None
    description: str | None = strawberry.field(
        default=None, description="An empty string clears the description; null keeps it."
    )
    is_public: bool | None = None
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input
class DeletePlanGroupInput:
    plan_group_id: strawberry.ID
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input
class AddPlanToGroupInput:
    plan_group_id: strawberry.ID
    plan_id: strawberry.ID
    sort_order: int | None = strawberry.field(
        default=None,
        description="Position (0 = first); the plans from there on shift down. Omitted or "
        "past the end appends. A plan already in this group moves there.",
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input
class RemovePlanFromGroupInput:
    plan_group_id: strawberry.ID
    plan_id: strawberry.ID
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input
class ReorderPlansInGroupInput:
    plan_group_id: strawberry.ID
    plan_ids: list[strawberry.ID] = strawberry.field(
        description="Every plan of the group exactly once, in the new order."
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.type
class CreatePlanPayload:
    plan: Plan | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PlanGroupPayload:
    plan_group: PlanGroup | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CreatePlanGroupPayload(PlanGroupPayload):
    pass


@strawberry.type
class UpdatePlanGroupPayload(PlanGroupPayload):
    pass


@strawberry.type
class AddPlanToGroupPayload(PlanGroupPayload):
    pass


@strawberry.type
class RemovePlanFromGroupPayload(PlanGroupPayload):
    pass


@strawberry.type
class ReorderPlansInGroupPayload(PlanGroupPayload):
    pass


@strawberry.type
class DeletePlanGroupPayload:
    deleted_plan_group_id: strawberry.ID | None = None
    unlinked_plans: list[Plan] | None = strawberry.field(
        default=None, description="The group's plans, now in no group (none is deleted)."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PlanMutation:
    @strawberry.mutation(description="Create a plan.")
    @run_mutation
    async def create_plan(
        self, info: Info, input: CreatePlanInput, session: Session, viewer: Viewer
    ) -> CreatePlanPayload:
        row = await plans.create_plan(
            session, viewer, name=input.name, code=input.code, currencies=input.currencies
        )
        return CreatePlanPayload(plan=Plan.from_row(row))

    @strawberry.mutation(description="Create an empty plan group.")
    @run_mutation
    async def create_plan_group(
        self, info: Info, input: CreatePlanGroupInput, session: Session, viewer: Viewer
    ) -> CreatePlanGroupPayload:
        data = await plan_groups.create_plan_group(
            session,
            viewer,
            name=input.name,
            description=input.description,
            is_public=input.is_public,
        )
        return CreatePlanGroupPayload(plan_group=PlanGroup.from_data(data))

    @strawberry.mutation(description="Change a plan group's name, description or visibility.")
    @run_mutation
    async def update_plan_group(
        self, info: Info, input: UpdatePlanGroupInput, session: Session, viewer: Viewer
    ) -> UpdatePlanGroupPayload:
        data = await plan_groups.update_plan_group(
            session,
            viewer,
            str(input.plan_group_id),
            name=input.name,
            description=input.description,
            is_public=input.is_public,
        )
        return UpdatePlanGroupPayload(plan_group=PlanGroup.from_data(data))

    @strawberry.mutation(description="Delete a plan group; its plans stay, in no group.")
    @run_mutation
    async def delete_plan_group(
        self, info: Info, input: DeletePlanGroupInput, session: Session, viewer: Viewer
    ) -> DeletePlanGroupPayload:
        unlinked = await plan_groups.delete_plan_group(session, viewer, str(input.plan_group_id))
        return DeletePlanGroupPayload(
            deleted_plan_group_id=input.plan_group_id,
            unlinked_plans=[Plan.from_row(row) for row in unlinked],
        )

    @strawberry.mutation(description="Insert a plan into a group at a position (or move it).")
    @run_mutation
    async def add_plan_to_group(
        self, info: Info, input: AddPlanToGroupInput, session: Session, viewer: Viewer
    ) -> AddPlanToGroupPayload:
        data = await plan_groups.add_plan_to_group(
            session, viewer, str(input.plan_group_id), str(input.plan_id), input.sort_order
        )
        return AddPlanToGroupPayload(plan_group=PlanGroup.from_data(data))

    @strawberry.mutation(description="Take a plan out of its group, closing the gap.")
    @run_mutation
    async def remove_plan_from_group(
        self, info: Info, input: RemovePlanFromGroupInput, session: Session, viewer: Viewer
    ) -> RemovePlanFromGroupPayload:
        data = await plan_groups.remove_plan_from_group(
            session, viewer, str(input.plan_group_id), str(input.plan_id)
        )
        return RemovePlanFromGroupPayload(plan_group=PlanGroup.from_data(data))

    @strawberry.mutation(description="Set the order of all plans in a group.")
    @run_mutation
    async def reorder_plans_in_group(
        self, info: Info, input: ReorderPlansInGroupInput, session: Session, viewer: Viewer
    ) -> ReorderPlansInGroupPayload:
        data = await plan_groups.reorder_plans_in_group(
            session, viewer, str(input.plan_group_id), [str(i) for i in input.plan_ids]
        )
        return ReorderPlansInGroupPayload(plan_group=PlanGroup.from_data(data))
