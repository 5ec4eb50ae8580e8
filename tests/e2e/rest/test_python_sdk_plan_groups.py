"""The official Python SDK (commet-sdk) against /api/v1: every method of ``plan_groups`` (and
the ``plans`` methods they need), success and error paths, typed results and exceptions."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from commet import AsyncCommet, CommetAPIError, CommetValidationError
from commet.types import (
    AddedPlanToGroup,
    DeletedObject,
    Plan,
    PlanGroup,
    PlanGroupDetail,
    PlanGroupsListResult,
    RemovedPlanFromGroup,
    ReorderedPlans,
)

from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg
from tests.support.rest import RestClient, python_sdk, sync_python_sdk

pytestmark = pytest.mark.e2e


async def _plan(sdk: AsyncCommet, name: str) -> Plan:
    code = f"{name.lower()}_{uuid.uuid4().hex[:6]}"
    return await sdk.plans.create(name=name, code=code)


async def test_create_get_update_delete(server: LiveServer, org: TestOrg) -> None:
    async with python_sdk(server, org.test_key) as sdk:
        created = await sdk.plan_groups.create(name="Tiers", description="Good, better")
        fetched = await sdk.plan_groups.get(created.id)
        renamed = await sdk.plan_groups.update(created.id, name="Levels", is_public=True)
        deleted = await sdk.plan_groups.delete(created.id)
        with pytest.raises(CommetAPIError) as gone:
            await sdk.plan_groups.get(created.id)
    assert isinstance(created, PlanGroup)
    assert created.id.startswith("plg_")
    assert (created.name, created.description, created.is_public, created.object) == (
        "Tiers",
        "Good, better",
        False,
        "plan_group",
    )
    assert created.livemode is False
    assert isinstance(fetched, PlanGroupDetail) and fetched.plans == []
    assert isinstance(renamed, PlanGroup)
    assert (renamed.name, renamed.description, renamed.is_public) == (
        "Levels",
        "Good, better",
        True,
    )
    assert renamed.updated_at >= created.updated_at
    assert isinstance(deleted, DeletedObject)
    assert (deleted.id, deleted.deleted, deleted.object) == (created.id, True, "plan_group")
    assert (gone.value.status_code, gone.value.code, gone.value.type) == (
        404,
        "plan_group_not_found",
        "not_found_error",
    )


async def test_update_with_null_description_clears_it(server: LiveServer, org: TestOrg) -> None:
    async with python_sdk(server, org.test_key) as sdk:
        created = await sdk.plan_groups.create(name="Tiers", description="To be cleared")
    async with RestClient(server, org.test_key) as rest:
        response = await rest.request(
            "PATCH", f"/plan-groups/{created.id}", json={"description": None}
        )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["description"] is None
    assert response.json()["data"]["name"] == "Tiers"


async def test_list_pages_with_cursors(server: LiveServer, org: TestOrg) -> None:
    async with python_sdk(server, org.test_key) as sdk:
        ids = [(await sdk.plan_groups.create(name=f"Group {i}")).id for i in range(3)]
        first = await sdk.plan_groups.list(limit=2)
        assert first.next_cursor is not None
        second = await sdk.plan_groups.list(limit=2, cursor=first.next_cursor)
    assert isinstance(first, PlanGroupsListResult) and first.object == "list"
    assert all(isinstance(group, PlanGroup) for group in first.data + second.data)
    assert first.has_more is True and second.has_more is False and second.next_cursor is None
    assert [g.id for g in first.data + second.data] == list(reversed(ids))  # newest first


async def test_plans_are_added_ordered_and_removed(server: LiveServer, org: TestOrg) -> None:
    async with python_sdk(server, org.test_key) as sdk:
        group = await sdk.plan_groups.create(name="Tiers")
        basic, pro, team = [await _plan(sdk, name) for name in ("Basic", "Pro", "Team")]
        added = await sdk.plan_groups.add_plan(group.id, plan_id=basic.id)
        await sdk.plan_groups.add_plan(group.id, plan_id=team.id)
        await sdk.plan_groups.add_plan(group.id, plan_id=pro.id, sort_order=1)
        ordered = await sdk.plan_groups.get(group.id)
        reordered = await sdk.plan_groups.reorder_plans(
            group.id, plan_ids=[team.id, pro.id, basic.id]
        )
        after_reorder = await sdk.plan_groups.get(group.id)
        removed = await sdk.plan_groups.remove_plan(group.id, pro.id)
        after_remove = await sdk.plan_groups.get(group.id)
        plan = await sdk.plans.get(basic.id)
    assert isinstance(added, AddedPlanToGroup)
    assert (added.success, added.object, added.livemode) == (True, "plan_group_membership", False)
    assert [(p.name, p.sort_order) for p in ordered.plans] == [
        ("Basic", 0),
        ("Pro", 1),
        ("Team", 2),
    ]
    assert isinstance(reordered, ReorderedPlans)
    assert (reordered.reordered, reordered.object) == (True, "plan_group_order")
    assert [p.name for p in after_reorder.plans] == ["Team", "Pro", "Basic"]
    assert isinstance(removed, RemovedPlanFromGroup)
    assert (removed.id, removed.removed, removed.object) == (pro.id, True, "plan_group_membership")
    assert [(p.name, p.sort_order) for p in after_remove.plans] == [("Team", 0), ("Basic", 1)]
    assert isinstance(plan, Plan) and plan.object == "plan"


async def test_plan_created_into_a_group(server: LiveServer, org: TestOrg) -> None:
    async with python_sdk(server, org.test_key) as sdk:
        group = await sdk.plan_groups.create(name="Tiers")
        plan = await sdk.plans.create(
            name="Basic", code=f"b_{uuid.uuid4().hex[:6]}", plan_group_id=group.id
        )
        detail = await sdk.plan_groups.get(group.id)
    assert (plan.plan_group_id, plan.sort_order) == (group.id, 0)
    assert [p.id for p in detail.plans] == [plan.id]


async def test_deleting_a_group_unlinks_its_plans(server: LiveServer, org: TestOrg) -> None:
    async with python_sdk(server, org.test_key) as sdk:
        group = await sdk.plan_groups.create(name="Tiers")
        plan = await _plan(sdk, "Basic")
        await sdk.plan_groups.add_plan(group.id, plan_id=plan.id)
        await sdk.plan_groups.delete(group.id)
        unlinked = await sdk.plans.get(plan.id)
    assert unlinked.plan_group_id is None


async def test_membership_errors_are_typed(server: LiveServer, org: TestOrg) -> None:
    async with python_sdk(server, org.test_key) as sdk:
        first = await sdk.plan_groups.create(name="First")
        second = await sdk.plan_groups.create(name="Second")
        plan = await _plan(sdk, "Basic")
        other = await _plan(sdk, "Other")
        await sdk.plan_groups.add_plan(first.id, plan_id=plan.id)
        with pytest.raises(CommetAPIError) as taken:
            await sdk.plan_groups.add_plan(second.id, plan_id=plan.id)
        with pytest.raises(CommetAPIError) as unknown_plan:
            await sdk.plan_groups.add_plan(first.id, plan_id="plan_unknown")
        with pytest.raises(CommetAPIError) as unknown_group:
            await sdk.plan_groups.add_plan("plg_unknown", plan_id=plan.id)
        with pytest.raises(CommetAPIError) as incomplete:
            await sdk.plan_groups.reorder_plans(first.id, plan_ids=[other.id])
        with pytest.raises(CommetAPIError) as not_member:
            await sdk.plan_groups.remove_plan(first.id, other.id)
        with pytest.raises(CommetValidationError) as negative:
            await sdk.plan_groups.add_plan(first.id, plan_id=other.id, sort_order=-1)
        with pytest.raises(CommetValidationError) as blank:
            await sdk.plan_groups.update(first.id, name="   ")
    assert (taken.value.status_code, taken.value.code, taken.value.param) == (
        409,
        "plan_already_in_group",
        "planId",
    )
    assert (unknown_plan.value.status_code, unknown_plan.value.code) == (404, "plan_not_found")
    assert (unknown_group.value.code, unknown_group.value.param) == ("plan_group_not_found", "id")
    assert (incomplete.value.status_code, incomplete.value.code, incomplete.value.type) == (
        400,
        "invalid_plan_order",
        "validation_error",
    )
    assert (not_member.value.status_code, not_member.value.code) == (404, "plan_not_found")
    assert set(negative.value.validation_errors) == {"sortOrder"}
    assert set(blank.value.validation_errors) == {"name"}


async def test_create_errors_are_typed(server: LiveServer, org: TestOrg) -> None:
    async with python_sdk(server, org.test_key) as sdk:
        with pytest.raises(CommetValidationError) as blank:
            await sdk.plan_groups.create(name="")
        code = f"dup_{uuid.uuid4().hex[:6]}"
        await sdk.plans.create(name="Basic", code=code)
        with pytest.raises(CommetAPIError) as duplicate:
            await sdk.plans.create(name="Basic again", code=code)
        with pytest.raises(CommetValidationError) as bad_code:
            await sdk.plans.create(name="Basic", code="Not A Code")
        with pytest.raises(CommetValidationError) as unsupported:
            await sdk.plans.create(name="Basic", code="basic_x", is_free=True)
    assert blank.value.validation_errors == {"name": ["must not be empty"]}
    assert (duplicate.value.status_code, duplicate.value.code) == (409, "duplicate")
    assert set(bad_code.value.validation_errors) == {"code"}
    assert set(unsupported.value.validation_errors) == {"isFree"}


async def test_retried_create_with_one_key_makes_one_group(
    server: LiveServer, org: TestOrg
) -> None:
    key = f"retry-{uuid.uuid4()}"
    async with python_sdk(server, org.test_key) as sdk:
        first = await sdk.plan_groups.create(name="Once", idempotency_key=key)
        again = await sdk.plan_groups.create(name="Once", idempotency_key=key)
        listed = await sdk.plan_groups.list(limit=100)
    assert again.id == first.id
    assert [g.id for g in listed.data if g.name == "Once"] == [first.id]


async def test_the_blocking_client_works_the_same(server: LiveServer, org: TestOrg) -> None:
    def scenario() -> tuple[PlanGroupDetail, PlanGroupsListResult, DeletedObject]:
        with sync_python_sdk(server, org.test_key) as sdk:
            group = sdk.plan_groups.create(name="Blocking")
            plan = sdk.plans.create(name="Basic", code=f"sync_{uuid.uuid4().hex[:6]}")
            sdk.plan_groups.add_plan(group.id, plan_id=plan.id)
            sdk.plan_groups.reorder_plans(group.id, plan_ids=[plan.id])
            sdk.plan_groups.update(group.id, description="sync")
            detail = sdk.plan_groups.get(group.id)
            sdk.plan_groups.remove_plan(group.id, plan.id)
            listed = sdk.plan_groups.list(limit=1)
            return detail, listed, sdk.plan_groups.delete(group.id)

    detail, listed, deleted = await asyncio.to_thread(scenario)
    assert (detail.name, detail.description, len(detail.plans)) == ("Blocking", "sync", 1)
    assert isinstance(listed, PlanGroupsListResult) and len(listed.data) == 1
    assert deleted.deleted is True
