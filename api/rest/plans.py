"""``/plans``: what the plan-group routes need (create a plan, read one), on the services
GraphQL's ``createPlan`` and ``addPlanToGroup`` call."""

from __future__ import annotations

from dataclasses import replace

from api.rest import objects
from api.rest.bodies import CreatePlanBody
from api.rest.pipeline import Call, Operation
from services.errors import NotFound
from services.infra.database import Session
from services.plans import groups as plan_groups
from services.plans import service as plans


async def create_plan(session: Session, call: Call, _: None) -> objects.Plan:
    body: CreatePlanBody = call.body
    viewer = call.viewer
    row = await plans.create_plan(
        session,
        viewer,
        name=body.name,
        code=body.code,
        currencies=list(body.currencies) if body.currencies is not None else [viewer.currency],
    )
    if body.plan_group_id is not None:
        await plan_groups.add_plan_to_group(session, viewer, body.plan_group_id, row.id)
        row = await plans.get_plan(session, viewer, row.id) or row
    return objects.Plan.of(row)


async def get_plan(session: Session, call: Call, _: None) -> objects.Plan:
    row = await plans.get_plan(session, call.viewer, call.path["id"])
    if row is None:
        raise NotFound("plan", ["planId"])
    return objects.Plan.of(row)


CREATE_PLAN = Operation(
    "POST",
    "/plans",
    "create-plan",
    "Create a plan",
    create_plan,
    objects.Plan,
    tag="plans",
    body=CreatePlanBody,
    errors=(404, 409, 422),
)

OPERATIONS = [
    CREATE_PLAN,
    # Where API versions before 2026-07-24 (@commet/node 7.x) create plans.
    replace(CREATE_PLAN, path="/plans/manage", operation_id="create-plan-manage", deprecated=True),
    Operation(
        "GET",
        "/plans/{id}",
        "get-plan",
        "Retrieve a plan",
        get_plan,
        objects.Plan,
        tag="plans",
        renames={"planId": "id"},
        errors=(404,),
    ),
]
