"""Plans and plan groups over real HTTP against the running server (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from services.infra.database import Database
from services.organizations import api_keys
from tests.support.graphql import GraphQLClient, error_codes
from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg

pytestmark = pytest.mark.e2e

PLAN_FIELDS = "id name code currencies createdAt livemode planGroup { id }"
GROUP_FIELDS = f"""
  id name description isPublic createdAt livemode
  plans {{ sortOrder plan {{ {PLAN_FIELDS} }} }}
"""
ERRORS = "userErrors { code message field }"

CREATE_PLAN = f"""
mutation($input: CreatePlanInput!) {{
  createPlan(input: $input) {{ plan {{ {PLAN_FIELDS} }} {ERRORS} }}
}}"""
CREATE_GROUP = f"""
mutation($input: CreatePlanGroupInput!) {{
  createPlanGroup(input: $input) {{ planGroup {{ {GROUP_FIELDS} }} {ERRORS} }}
}}"""
UPDATE_GROUP = f"""
mutation($input: UpdatePlanGroupInput!) {{
  updatePlanGroup(input: $input) {{ planGroup {{ {GROUP_FIELDS} }} {ERRORS} }}
}}"""
DELETE_GROUP = f"""
mutation($input: DeletePlanGroupInput!) {{
  deletePlanGroup(input: $input) {{
    deletedPlanGroupId unlinkedPlans {{ {PLAN_FIELDS} }} {ERRORS}
  }}
}}"""
ADD = f"""
mutation($input: AddPlanToGroupInput!) {{
  addPlanToGroup(input: $input) {{ planGroup {{ {GROUP_FIELDS} }} {ERRORS} }}
}}"""
REMOVE = f"""
mutation($input: RemovePlanFromGroupInput!) {{
  removePlanFromGroup(input: $input) {{ planGroup {{ {GROUP_FIELDS} }} {ERRORS} }}
}}"""
REORDER = f"""
mutation($input: ReorderPlansInGroupInput!) {{
  reorderPlansInGroup(input: $input) {{ planGroup {{ {GROUP_FIELDS} }} {ERRORS} }}
}}"""
GROUP = f"query($id: ID!) {{ planGroup(id: $id) {{ {GROUP_FIELDS} }} }}"
NODE = """
query($id: ID!) {
  node(id: $id) { __typename id livemode ... on Plan { code } ... on PlanGroup { name } }
}"""
PLANS = f"""
query($first: Int, $after: String) {{
  plans(first: $first, after: $after) {{
    edges {{ cursor node {{ {PLAN_FIELDS} }} }}
    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
  }}
}}"""
GROUPS = f"""
query($first: Int, $after: String) {{
  planGroups(first: $first, after: $after) {{
    edges {{ cursor node {{ {GROUP_FIELDS} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}"""


async def mutate(client: GraphQLClient, query: str, **input: Any) -> dict[str, Any]:
    data = await client.data(query, {"input": input})
    (payload,) = data.values()
    result: dict[str, Any] = payload
    return result


async def ok(client: GraphQLClient, query: str, **input: Any) -> dict[str, Any]:
    payload = await mutate(client, query, **input)
    assert payload["userErrors"] == [], payload
    return payload


async def new_plan(client: GraphQLClient, code: str, currencies: list[str] | None = None) -> str:
    payload = await ok(
        client, CREATE_PLAN, name=code.title(), code=code, currencies=currencies or ["usd"]
    )
    plan_id: str = payload["plan"]["id"]
    return plan_id


async def new_group(client: GraphQLClient, name: str = "Tiers") -> str:
    group_id: str = (await ok(client, CREATE_GROUP, name=name))["planGroup"]["id"]
    return group_id


def codes(group: dict[str, Any]) -> list[str]:
    assert [p["sortOrder"] for p in group["plans"]] == list(range(len(group["plans"])))
    return [p["plan"]["code"] for p in group["plans"]]


async def read_group(client: GraphQLClient, group_id: str) -> dict[str, Any] | None:
    group: dict[str, Any] | None = (await client.data(GROUP, {"id": group_id}))["planGroup"]
    return group


async def test_plan_group_lifecycle_keeps_orders_dense(server: LiveServer, org: TestOrg) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        created = await ok(client, CREATE_PLAN, name="Basic", code="basic", currencies=["USD"])
        plan = created["plan"]
        assert plan["id"].startswith("plan_") and plan["livemode"] is False
        assert (plan["code"], plan["currencies"], plan["planGroup"]) == ("basic", ["usd"], None)
        group = (await ok(client, CREATE_GROUP, name="Tiers", description="All"))["planGroup"]
        assert group["id"].startswith("plg_")
        assert (group["isPublic"], group["plans"], group["description"]) == (False, [], "All")
        ids = {"basic": plan["id"]}
        for code in ("pro", "team", "enterprise"):
            ids[code] = await new_plan(client, code)

        add = await ok(client, ADD, planGroupId=group["id"], planId=ids["basic"])
        assert codes(add["planGroup"]) == ["basic"]
        assert add["planGroup"]["plans"][0]["plan"]["planGroup"] == {"id": group["id"]}
        add = await ok(client, ADD, planGroupId=group["id"], planId=ids["team"], sortOrder=9)
        assert codes(add["planGroup"]) == ["basic", "team"]
        add = await ok(client, ADD, planGroupId=group["id"], planId=ids["pro"], sortOrder=1)
        assert codes(add["planGroup"]) == ["basic", "pro", "team"]
        add = await ok(client, ADD, planGroupId=group["id"], planId=ids["enterprise"], sortOrder=0)
        assert codes(add["planGroup"]) == ["enterprise", "basic", "pro", "team"]

        removed = await ok(client, REMOVE, planGroupId=group["id"], planId=ids["basic"])
        assert codes(removed["planGroup"]) == ["enterprise", "pro", "team"]
        order = [ids["pro"], ids["team"], ids["enterprise"]]
        reordered = await ok(client, REORDER, planGroupId=group["id"], planIds=order)
        assert codes(reordered["planGroup"]) == ["pro", "team", "enterprise"]
        fetched = await read_group(client, group["id"])
        assert fetched is not None and codes(fetched) == ["pro", "team", "enterprise"]

        deleted = await ok(client, DELETE_GROUP, planGroupId=group["id"])
        assert deleted["deletedPlanGroupId"] == group["id"]
        assert sorted(p["code"] for p in deleted["unlinkedPlans"]) == ["enterprise", "pro", "team"]
        assert await read_group(client, group["id"]) is None
        plans = (await client.data(PLANS, {"first": 10}))["plans"]["edges"]
        assert sorted(e["node"]["code"] for e in plans) == ["basic", "enterprise", "pro", "team"]
        assert all(e["node"]["planGroup"] is None for e in plans)


async def test_update_plan_group_changes_only_given_fields(
    server: LiveServer, org: TestOrg
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        group = (await ok(client, CREATE_GROUP, name="Tiers", description="Old", isPublic=True))[
            "planGroup"
        ]
        renamed = await ok(client, UPDATE_GROUP, planGroupId=group["id"], name="New")
        assert {k: renamed["planGroup"][k] for k in ("name", "description", "isPublic")} == {
            "name": "New",
            "description": "Old",
            "isPublic": True,
        }
        cleared = await ok(client, UPDATE_GROUP, planGroupId=group["id"], description="")
        assert cleared["planGroup"]["description"] is None
        bad = await mutate(client, UPDATE_GROUP, planGroupId=group["id"], name="  ")
        assert [(e["code"], e["field"]) for e in bad["userErrors"]] == [
            ("VALIDATION_ERROR", ["input", "name"])
        ]
        assert (await read_group(client, group["id"]) or {})["name"] == "New"


async def test_each_error_code_changes_nothing(server: LiveServer, org: TestOrg) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        first, second = await new_group(client, "First"), await new_group(client, "Second")
        a, b = await new_plan(client, "a"), await new_plan(client, "b")
        eur = await new_plan(client, "eur_only", ["eur"])
        await ok(client, ADD, planGroupId=first, planId=a)
        await ok(client, ADD, planGroupId=first, planId=b)
        before = [await read_group(client, first), await read_group(client, second)]
        cases: list[tuple[str, dict[str, Any], str, list[str]]] = [
            (ADD, {"planGroupId": second, "planId": a}, "PLAN_ALREADY_IN_GROUP", ["planId"]),
            (ADD, {"planGroupId": first, "planId": eur}, "CURRENCY_MISMATCH", ["planId"]),
            (REORDER, {"planGroupId": first, "planIds": [a]}, "INVALID_PLAN_ORDER", ["planIds"]),
            (REORDER, {"planGroupId": first, "planIds": [a, a]}, "INVALID_PLAN_ORDER", ["planIds"]),
            (ADD, {"planGroupId": "plg_unknown", "planId": a}, "NOT_FOUND", ["planGroupId"]),
            (ADD, {"planGroupId": second, "planId": "plan_unknown"}, "NOT_FOUND", ["planId"]),
            (REMOVE, {"planGroupId": second, "planId": a}, "NOT_FOUND", ["planId"]),
            (ADD, {"planGroupId": second, "planId": b, "sortOrder": -1}, "VALIDATION_ERROR",
             ["sortOrder"]),
            (DELETE_GROUP, {"planGroupId": "plg_unknown"}, "NOT_FOUND", ["planGroupId"]),
            (CREATE_PLAN, {"name": "A again", "code": "a", "currencies": ["usd"]}, "DUPLICATE",
             ["code"]),
            (CREATE_PLAN, {"name": "Bad", "code": "Bad-Code", "currencies": ["usd"]},
             "VALIDATION_ERROR", ["code"]),
            (CREATE_PLAN, {"name": "Bad", "code": "bad", "currencies": ["usd", "zzz"]},
             "VALIDATION_ERROR", ["currencies"]),
            (CREATE_PLAN, {"name": "", "code": "bad", "currencies": []}, "VALIDATION_ERROR",
             ["name"]),
        ]  # fmt: skip
        for query, input, code, field in cases:
            payload = await mutate(client, query, **input)
            assert payload["userErrors"], (code, payload)
            error = payload["userErrors"][0]
            assert (error["code"], error["field"]) == (code, ["input", *field]), payload
            assert error["message"]
        after = [await read_group(client, first), await read_group(client, second)]
        assert after == before
        plans = (await client.data(PLANS, {"first": 100}))["plans"]["edges"]
        assert sorted(e["node"]["code"] for e in plans) == ["a", "b", "eur_only"]


async def test_twenty_concurrent_adds_get_dense_unique_positions(
    server: LiveServer, org: TestOrg
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        group_id = await new_group(client)
        plan_ids = [await new_plan(client, f"tier_{i:02d}") for i in range(20)]

        async def add(index: int, plan_id: str) -> dict[str, Any]:
            position = [0, None, 1, 5][index % 4]
            return await ok(client, ADD, planGroupId=group_id, planId=plan_id, sortOrder=position)

        results = await asyncio.gather(*(add(i, p) for i, p in enumerate(plan_ids)))
        for result in results:
            codes(result["planGroup"])  # every response shows a dense group
        group = await read_group(client, group_id)
        listed = (await client.data(PLANS, {"first": 20}))["plans"]["edges"]
    assert {e["node"]["planGroup"]["id"] for e in listed} == {group_id}  # batched loader
    assert group is not None
    assert [p["sortOrder"] for p in group["plans"]] == list(range(20))
    assert sorted(p["plan"]["id"] for p in group["plans"]) == sorted(plan_ids)


async def test_other_organization_and_mode_see_not_found(server: LiveServer, org: TestOrg) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as mine:
        group_id = await new_group(mine)
        plan_id = await new_plan(mine, "private")
        await ok(mine, ADD, planGroupId=group_id, planId=plan_id)
        for node_id, typename in ((group_id, "PlanGroup"), (plan_id, "Plan")):
            node = (await mine.data(NODE, {"id": node_id}))["node"]
            assert (node["__typename"], node["id"], node["livemode"]) == (typename, node_id, False)
        before = await read_group(mine, group_id)

    other_key = await _other_org_test_key(server)
    async with (
        GraphQLClient(server.graphql_url, other_key) as other,
        GraphQLClient(server.graphql_url, org.live_key) as live,
    ):
        for client in (other, live):
            own_plan = await new_plan(client, "private")  # the same code is free elsewhere
            for node_id in (group_id, plan_id):
                assert (await client.data(NODE, {"id": node_id}))["node"] is None
            assert await read_group(client, group_id) is None
            assert (await client.data(PLANS, {"first": 100}))["plans"]["edges"][0]["node"][
                "id"
            ] == own_plan
            assert (await client.data(GROUPS))["planGroups"]["edges"] == []
            attempts: list[tuple[str, dict[str, Any]]] = [
                (ADD, {"planGroupId": group_id, "planId": own_plan}),
                (REMOVE, {"planGroupId": group_id, "planId": plan_id}),
                (REORDER, {"planGroupId": group_id, "planIds": [plan_id]}),
                (UPDATE_GROUP, {"planGroupId": group_id, "name": "Stolen"}),
                (DELETE_GROUP, {"planGroupId": group_id}),
            ]
            for query, input in attempts:
                payload = await mutate(client, query, **input)
                assert [e["code"] for e in payload["userErrors"]] == ["NOT_FOUND"]
    async with GraphQLClient(server.graphql_url, org.test_key) as mine:
        assert await read_group(mine, group_id) == before
        my_group = await new_group(mine, "Mine")
        payload = await mutate(mine, ADD, planGroupId=my_group, planId=own_plan)
        assert [e["code"] for e in payload["userErrors"]] == ["NOT_FOUND"]


async def _other_org_test_key(server: LiveServer) -> str:
    database = Database(server.env["PAYOUTS_DATABASE_URL"])
    try:
        async with database.transaction() as session:
            created = await api_keys.create_organization(session, name=f"Other {uuid.uuid4()}")
    finally:
        await database.dispose()
    return created.test_key


async def test_idempotent_add_replays_and_detects_mismatch(
    server: LiveServer, org: TestOrg
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        group_id = await new_group(client)
        a, b = await new_plan(client, "a"), await new_plan(client, "b")
        await ok(client, ADD, planGroupId=group_id, planId=a)
        key = f"add-{uuid.uuid4()}"
        first = await ok(
            client, ADD, planGroupId=group_id, planId=b, sortOrder=0, idempotencyKey=key
        )
        await ok(client, ADD, planGroupId=group_id, planId=a, sortOrder=0)  # moves a back first
        replay = await ok(
            client, ADD, planGroupId=group_id, planId=b, sortOrder=0, idempotencyKey=key
        )
        assert codes(first["planGroup"]) == ["b", "a"]
        # The replay names the same group, shown as it is now (issue 17 item 25): "a" first,
        # so the move was not applied again.
        assert replay["planGroup"]["id"] == first["planGroup"]["id"]
        assert codes(replay["planGroup"]) == ["a", "b"]
        assert codes(await read_group(client, group_id) or {}) == ["a", "b"]  # not re-applied
        mismatch = await mutate(
            client, ADD, planGroupId=group_id, planId=b, sortOrder=1, idempotencyKey=key
        )
        assert [e["code"] for e in mismatch["userErrors"]] == ["IDEMPOTENCY_KEY_MISMATCH"]


async def test_connections_page_with_cursors_and_bound_first(
    server: LiveServer, org: TestOrg
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        made = [await new_group(client, f"G{i}") for i in range(3)]
        seen: list[str] = []
        after = None
        while True:
            page = (await client.data(GROUPS, {"first": 2, "after": after}))["planGroups"]
            seen += [e["node"]["id"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert seen == list(reversed(made))
        for variables in ({"first": 101}, {"first": -1}, {"after": "not-a-cursor"}):
            result = await client.execute(PLANS, variables)
            assert error_codes(result) == ["BAD_USER_INPUT"], result


async def test_one_plan_added_to_many_groups_at_once_joins_exactly_one(
    server: LiveServer, org: TestOrg
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        plan_id = await new_plan(client, "contested")
        groups = [await new_group(client, f"G{i}") for i in range(8)]
        payloads = await asyncio.gather(
            *(mutate(client, ADD, planGroupId=g, planId=plan_id) for g in groups)
        )
        outcomes = sorted(p["userErrors"][0]["code"] if p["userErrors"] else "OK" for p in payloads)
        assert outcomes == ["OK"] + ["PLAN_ALREADY_IN_GROUP"] * 7
        members = [codes(await read_group(client, g) or {}) for g in groups]
        assert sorted(members) == [[]] * 7 + [["contested"]]


async def test_concurrent_creates_with_one_code_make_one_plan(
    server: LiveServer, org: TestOrg
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        payloads = await asyncio.gather(
            *(
                mutate(client, CREATE_PLAN, name=f"Same {i}", code="same", currencies=["usd"])
                for i in range(8)
            )
        )
        outcomes = sorted(p["userErrors"][0]["code"] if p["userErrors"] else "OK" for p in payloads)
        assert outcomes == ["DUPLICATE"] * 7 + ["OK"]
        plans = (await client.data(PLANS, {"first": 100}))["plans"]["edges"]
        assert [e["node"]["code"] for e in plans] == ["same"]


async def test_mixed_concurrent_changes_leave_the_group_dense(
    server: LiveServer, org: TestOrg
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        group_id = await new_group(client)
        members = [await new_plan(client, f"m{i}") for i in range(6)]
        for plan_id in members:
            await ok(client, ADD, planGroupId=group_id, planId=plan_id)
        newcomers = [await new_plan(client, f"n{i}") for i in range(6)]
        calls = [
            *(mutate(client, ADD, planGroupId=group_id, planId=p, sortOrder=1) for p in newcomers),
            *(mutate(client, REMOVE, planGroupId=group_id, planId=p) for p in members[:3]),
            *(
                mutate(client, ADD, planGroupId=group_id, planId=p, sortOrder=0)
                for p in members[3:]
            ),
        ]
        payloads = await asyncio.gather(*calls)
        assert all(p["userErrors"] == [] for p in payloads), payloads
        group = await read_group(client, group_id)
    assert group is not None
    assert sorted(codes(group)) == sorted(["m3", "m4", "m5"] + [f"n{i}" for i in range(6)])
