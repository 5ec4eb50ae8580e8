"""``/plan-groups``: the SDKs' ``plan_groups`` resource, on the services GraphQL's plan group
mutations and queries call."""

from __future__ import annotations

from api.rest import objects
from api.rest.bodies import (
    AddPlanToGroupBody,
    CreatePlanGroupBody,
    ListQuery,
    ReorderPlansBody,
    UpdatePlanGroupBody,
)
from api.rest.pipeline import Call, Operation, list_cost
from api.rest.wire import ListObject
from services.errors import NotFound
from services.infra.database import Session
from services.pagination import encode_cursor
from services.plans import groups as plan_groups
from services.plans import service as plans

# The group is the path's ``{id}``; services name it ``planGroupId``.
GROUP_IN_PATH = {"planGroupId": "id"}


async def create_group(session: Session, call: Call, _: None) -> objects.PlanGroup:
    body: CreatePlanGroupBody = call.body
    data = await plan_groups.create_plan_group(
        session,
        call.viewer,
        name=body.name,
        description=body.description,
        is_public=bool(body.is_public),
    )
    return objects.PlanGroup.of(data)


async def list_groups(session: Session, call: Call, _: None) -> ListObject[objects.PlanGroup]:
    query: ListQuery = call.query
    page = await plans.list_plan_groups(session, call.viewer, first=query.limit, after=query.cursor)
    last = page.rows[-1] if page.rows else None
    return ListObject[objects.PlanGroup](
        data=[objects.PlanGroup.of(row) for row in page.rows],
        has_more=page.has_next_page,
        next_cursor=encode_cursor(last.created_at, last.id)
        if last is not None and page.has_next_page
        else None,
    )


async def get_group(session: Session, call: Call, _: None) -> objects.PlanGroupDetail:
    data = await plans.get_plan_group(session, call.viewer, call.path["id"])
    if data is None:
        raise NotFound("plan group", ["planGroupId"])
    return objects.PlanGroupDetail.of(data)


async def update_group(session: Session, call: Call, _: None) -> objects.PlanGroup:
    body: UpdatePlanGroupBody = call.body
    description = body.description
    if "description" in body.model_fields_set and description is None:
        description = ""  # null clears it; the service reads "" as "clear"
    data = await plan_groups.update_plan_group(
        session,
        call.viewer,
        call.path["id"],
        name=body.name,
        description=description,
        is_public=body.is_public,
    )
    return objects.PlanGroup.of(data)


async def delete_group(session: Session, call: Call, _: None) -> objects.DeletedObject:
    group_id = call.path["id"]
    await plan_groups.delete_plan_group(session, call.viewer, group_id)
    return objects.DeletedObject(id=group_id, object="plan_group", livemode=call.viewer.livemode)


async def add_plan(session: Session, call: Call, _: None) -> objects.AddedPlanToGroup:
    body: AddPlanToGroupBody = call.body
    await plan_groups.add_plan_to_group(
        session, call.viewer, call.path["id"], body.plan_id, body.sort_order
    )
    return objects.AddedPlanToGroup(
        object=objects.membership_object(call.version, "plan_group_membership"),
        livemode=call.viewer.livemode,
    )


async def remove_plan(session: Session, call: Call, _: None) -> objects.RemovedPlanFromGroup:
    plan_id = call.path["planId"]
    await plan_groups.remove_plan_from_group(session, call.viewer, call.path["id"], plan_id)
    return objects.RemovedPlanFromGroup(
        id=plan_id,
        object=objects.membership_object(call.version, "plan_group_membership"),
        livemode=call.viewer.livemode,
    )


async def reorder_plans(session: Session, call: Call, _: None) -> objects.ReorderedPlans:
    body: ReorderPlansBody = call.body
    await plan_groups.reorder_plans_in_group(
        session, call.viewer, call.path["id"], list(body.plan_ids)
    )
    return objects.ReorderedPlans(
        object=objects.membership_object(call.version, "plan_group_order"),
        livemode=call.viewer.livemode,
    )


OPERATIONS = [
    Operation(
        "POST",
        "/plan-groups",
        "create-plan-group",
        "Create a plan group",
        create_group,
        objects.PlanGroup,
        tag="plan-groups",
        body=CreatePlanGroupBody,
        errors=(422,),
    ),
    Operation(
        "GET",
        "/plan-groups",
        "list-plan-groups",
        "List plan groups",
        list_groups,
        ListObject[objects.PlanGroup],
        tag="plan-groups",
        query=ListQuery,
        cost=list_cost,
        errors=(422,),
        description="Newest first, by cursor (`nextCursor` → `cursor`).",
    ),
    Operation(
        "GET",
        "/plan-groups/{id}",
        "get-plan-group",
        "Retrieve a plan group",
        get_group,
        objects.PlanGroupDetail,
        tag="plan-groups",
        renames=GROUP_IN_PATH,
        errors=(404,),
        description="With its plans, ordered by sortOrder.",
    ),
    Operation(
        "PATCH",
        "/plan-groups/{id}",
        "update-plan-group",
        "Update a plan group",
        update_group,
        objects.PlanGroup,
        tag="plan-groups",
        body=UpdatePlanGroupBody,
        renames=GROUP_IN_PATH,
        also=("PUT",),
        errors=(404, 422),
        description="Only the fields given change. `PUT` is accepted too (API versions before "
        "2026-07-24).",
    ),
    Operation(
        "DELETE",
        "/plan-groups/{id}",
        "delete-plan-group",
        "Delete a plan group",
        delete_group,
        objects.DeletedObject,
        tag="plan-groups",
        renames=GROUP_IN_PATH,
        errors=(404,),
        description="Its plans are unlinked, not deleted.",
    ),
    Operation(
        "POST",
        "/plan-groups/{id}/plans",
        "add-plan-to-group",
        "Add a plan to a group",
        add_plan,
        objects.AddedPlanToGroup,
        tag="plan-groups",
        body=AddPlanToGroupBody,
        renames=GROUP_IN_PATH,
        errors=(404, 409, 422),
        description="Inserted at `sortOrder` (the plans from there on shift), appended when "
        "omitted. A plan already in this group moves there.",
    ),
    Operation(
        "PUT",
        "/plan-groups/{id}/plans/reorder",
        "reorder-plans-in-group",
        "Reorder the plans of a group",
        reorder_plans,
        objects.ReorderedPlans,
        tag="plan-groups",
        body=ReorderPlansBody,
        renames=GROUP_IN_PATH,
        errors=(400, 404, 422),
    ),
    Operation(
        "DELETE",
        "/plan-groups/{id}/plans/{planId}",
        "remove-plan-from-group",
        "Remove a plan from a group",
        remove_plan,
        objects.RemovedPlanFromGroup,
        tag="plan-groups",
        renames={**GROUP_IN_PATH, "planId": "planId"},
        errors=(404,),
    ),
]
