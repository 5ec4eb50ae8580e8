"""Tenant isolation, generated from the running server's schema (SPEC §5, issue 7).

Organization A gets state in test and live mode (``tests/support/tenant_seed.py``). Then every
query and mutation field is called — with A's ids in every id argument and ``*Id``/``*Ids``
input field, alone and mixed with the caller's own ids — by organization B's keys and by A's
key of the other mode, and ``node(id)`` for every A id: each call must answer ``NOT_FOUND`` (or
another refusal) or nothing, the response must never contain A's ids, cursors or distinctive
values, and A's data must be unchanged afterwards. A field the generator cannot call fails
``test_every_root_field_is_exercised_or_exempt``. Subscriptions:
``test_tenant_isolation_subscriptions.py``.
"""

from __future__ import annotations

import pytest

from services.infra.database import Database
from tests.support.graphql import GraphQLClient
from tests.support.isolation import (
    PRINCIPALS,
    Call,
    World,
    all_ids,
    build_world,
    call_politely,
    every_field,
    plan_calls,
    principals,
    problems_of,
    stable_snapshot,
)
from tests.support.live_server import LiveServer
from tests.support.schema_walk import IdSlot, UnhandledField, fill_slots, leaked, operation_text

pytestmark = pytest.mark.e2e

# Root fields the generator may not be able to call meaningfully, with the reason. Every other
# query and mutation field must be exercised; an entry for a field that no longer exists fails.
EXEMPT: dict[str, str] = {}


@pytest.fixture(scope="module")
async def world(server: LiveServer, db: Database) -> World:
    return await build_world(server, db)


async def test_every_root_field_is_exercised_or_exempt(world: World) -> None:
    fields = every_field(world.schema)
    plan = plan_calls(world.schema, fields, all_ids(world))
    exercised = {call.root.key for call in plan.calls}
    missing = {f.key for f in fields} - exercised - set(EXEMPT)
    assert missing == set(), f"fields the generator cannot call: {plan.unhandled}"
    stale = set(EXEMPT) - {f.key for f in fields}
    assert stale == set(), f"EXEMPT names fields the schema no longer has: {stale}"
    # The id arguments really receive A's ids: node(id) once per owned id, at least.
    node_calls = [c for c in plan.calls if c.root.key == "query.node"]
    assert len(node_calls) == sum(len(ids) for ids in all_ids(world).values())


@pytest.mark.parametrize("who", PRINCIPALS)
async def test_foreign_ids_get_nothing_from_any_field(
    server: LiveServer, world: World, who: str
) -> None:
    principal = principals(world)[who]
    before = [
        await stable_snapshot(server.graphql_url, key, world.schema, state)
        for key, state in principal.protected
    ]
    fields = every_field(world.schema)
    plan = plan_calls(world.schema, fields, principal.forbidden.ids, principal.own.ids)
    problems: list[str] = []
    async with GraphQLClient(
        server.graphql_url, await principal.credential(server.graphql_url)
    ) as client:
        for call in plan.calls:  # queries first, then mutations (schema order)
            response = await call_politely(client, call)
            problems += problems_of(call, response.status_code, response.json(), principal)
    after = [
        await stable_snapshot(server.graphql_url, key, world.schema, state)
        for key, state in principal.protected
    ]
    assert problems == []
    assert after == before, "A's data changed"
    assert {c.root.key for c in plan.calls if c.with_ids} >= {"query.node"}


@pytest.mark.parametrize("who", PRINCIPALS)
async def test_foreign_cursors_reveal_nothing(server: LiveServer, world: World, who: str) -> None:
    """A's pagination cursors passed as ``after`` to every field taking one: the caller's own
    page (or a refusal), never A's objects."""
    principal = principals(world)[who]
    cursors = sorted(principal.forbidden.cursors)
    paged = [r for r in every_field(world.schema) if "after" in r.definition.args]
    assert cursors and paged, "no connection to page through: seed something listable"
    problems: list[str] = []
    async with GraphQLClient(
        server.graphql_url, await principal.credential(server.graphql_url)
    ) as client:
        for root in paged:
            query = operation_text(world.schema, root, ["after"])
            for cursor in cursors:
                call = Call(root, query, {"after": cursor}, with_ids=False)
                response = await call_politely(client, call)
                body = response.json()
                codes = {(e.get("extensions") or {}).get("code") for e in body.get("errors") or []}
                if codes <= {"BAD_USER_INPUT"}:  # a refused cursor is fine; a leak is not
                    body.pop("errors", None)
                problems += problems_of(call, response.status_code, body, principal)
    assert problems == []


def test_slots_get_every_foreign_id_and_mixes_with_own_ids() -> None:
    group = IdSlot("input.planGroupId", frozenset({"PlanGroup"}), many=False)
    plans = IdSlot("input.planIds", frozenset({"Plan"}), many=True)
    args = {"input": {"planGroupId": group, "planIds": [plans], "name": "n"}}
    foreign = {"PlanGroup": ["plg_a1", "plg_a2"], "Plan": ["plan_a1"]}
    own = {"PlanGroup": ["plg_b1"], "Plan": ["plan_b1"]}
    assert [v["input"] for v in fill_slots(args, [group, plans], foreign, own)] == [
        {"planGroupId": "plg_a1", "planIds": ["plan_a1"], "name": "n"},
        {"planGroupId": "plg_a2", "planIds": ["plan_a1"], "name": "n"},
        {"planGroupId": "plg_a1", "planIds": ["plan_b1"], "name": "n"},  # foreign group only
        {"planGroupId": "plg_b1", "planIds": ["plan_b1", "plan_a1"], "name": "n"},  # foreign plan
    ]
    with pytest.raises(UnhandledField, match="no known ids"):
        list(fill_slots(args, [group, plans], {"Plan": ["plan_a1"]}))


def test_leak_scan_finds_tokens_inside_strings_and_short_values_only_whole() -> None:
    body = {"data": {"x": {"name": "Plan isoatest1", "last4": "4719", "id": "ba_4719xyz"}}}
    assert leaked(body, ["isoatest1"], ["4719"]) == ["4719", "isoatest1"]
    assert leaked({"data": {"id": "ba_4719xyz"}}, [], ["4719"]) == []
