"""Tenant isolation, generated from the running server's schema (SPEC §5, issue 7).

Organization A gets state in test and live mode (``tests/support/tenant_seed.py``). Then every
query and mutation field is called — with A's ids in every id argument and ``*Id``/``*Ids``
input field — by organization B's keys and by A's key of the other mode, and ``node(id)`` for
every A id: each call must answer ``NOT_FOUND`` (or another refusal) or nothing, the response
must never contain A's ids or distinctive values, and A's data must be unchanged afterwards.
A field the generator cannot call fails ``test_every_root_field_is_exercised_or_exempt``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import strawberry
import websockets
from graphql import GraphQLNonNull, GraphQLSchema

from api.schema import build_schema
from services.database import Database
from tests.conftest import make_org
from tests.support.graphql import GraphQLClient
from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg
from tests.support.schema_walk import (
    INTROSPECTION_QUERY,
    ArgumentBuilder,
    IdSlot,
    RootField,
    UnhandledField,
    ValueFactory,
    fill_slots,
    is_empty,
    leaked,
    objects_with_ids,
    operation_text,
    root_fields,
    schema_from_introspection,
)
from tests.support.tenant_seed import Seeded, seed_tenant

pytestmark = pytest.mark.e2e

# Root fields the generator may not be able to call meaningfully, with the reason. Every other
# query and mutation field must be exercised; an entry for a field that no longer exists fails.
EXEMPT: dict[str, str] = {}

# A call with a foreign id must be refused with one of these (or return nothing at all).
# INVALID_PLAN_ORDER: the caller's own group with a foreign plan in planIds is "not this
# group's plans", which says nothing about the foreign plan. VALIDATION_ERROR is no refusal:
# it means the generated input never reached the lookup.
REFUSALS = {
    "NOT_FOUND",
    "TEST_MODE_ONLY",
    "PAYOUT_ACCOUNT_REQUIRED",
    "PROVIDER_NOT_CONFIGURED",
    "INVALID_PLAN_ORDER",
}
# Inputs the generator fills beyond their required fields, so the call passes validation.
ALSO_FILL = {"CompleteVerificationInput": frozenset({"individual"})}


@dataclass
class Call:
    root: RootField
    query: str
    variables: dict[str, Any]
    with_ids: bool


@dataclass
class Plan:
    calls: list[Call] = field(default_factory=list)
    unhandled: dict[str, str] = field(default_factory=dict)


def plan_calls(
    schema: GraphQLSchema,
    fields: list[RootField],
    ids_by_type: dict[str, list[str]],
    own_by_type: dict[str, list[str]] | None = None,
) -> Plan:
    plan = Plan()
    builder = ArgumentBuilder(schema, ValueFactory(also_fill=ALSO_FILL))
    for root in fields:
        try:
            args, slots = builder.build(root)
            query = operation_text(schema, root, args)
            for variables in fill_slots(args, slots, ids_by_type, own_by_type):
                plan.calls.append(Call(root, query, variables, bool(slots)))
        except UnhandledField as error:
            plan.unhandled[root.key] = str(error)
    return plan


@dataclass
class World:
    schema: GraphQLSchema
    a: TestOrg
    b: TestOrg
    test: Seeded  # A's test-mode state
    live: Seeded  # A's live-mode state
    b_test: Seeded  # B's own state, for calls mixing the caller's ids with A's
    b_live: Seeded


@dataclass(frozen=True)
class Principal:
    label: str
    key: str
    forbidden: Seeded  # A's state this key must never reach
    own: Seeded  # the caller's own state in its mode
    protected: tuple[tuple[str, Seeded], ...]  # (owner's key, state) unchanged by the calls


async def introspect(url: str, key: str) -> GraphQLSchema:
    async with GraphQLClient(url, key) as client:
        return schema_from_introspection(await client.data(INTROSPECTION_QUERY))


def argless_queries(schema: GraphQLSchema) -> list[RootField]:
    return [
        r
        for r in root_fields(schema, "query")
        if not any(isinstance(a.type, GraphQLNonNull) for a in r.definition.args.values())
    ]


async def snapshot(client: GraphQLClient, schema: GraphQLSchema, state: Seeded) -> dict[str, Any]:
    """Everything the owner sees: each argument-less query and ``node`` of each owned id."""
    seen: dict[str, Any] = {}
    for root in argless_queries(schema):
        seen[root.name] = await client.execute(operation_text(schema, root, []))
    node = next(r for r in root_fields(schema, "query") if r.name == "node")
    query = operation_text(schema, node, ["id"])
    for ids in state.ids.values():
        for object_id in ids:
            seen[object_id] = await client.execute(query, {"id": object_id})
    return seen


async def stable_snapshot(url: str, key: str, schema: GraphQLSchema, state: Seeded) -> Any:
    """A snapshot that no longer changes (sandbox webhooks settle asynchronously)."""
    async with GraphQLClient(url, key) as client:
        previous = await snapshot(client, schema, state)
        for _ in range(40):
            await asyncio.sleep(0.25)
            current = await snapshot(client, schema, state)
            if current == previous:
                return current
            previous = current
    raise AssertionError("the owner's view kept changing")


async def collect_owned(url: str, key: str, schema: GraphQLSchema, state: Seeded) -> None:
    """Add every id the owner can see (nested objects included) to its state."""
    async with GraphQLClient(url, key) as client:
        for root in argless_queries(schema):
            body = await client.data(operation_text(schema, root, []))
            for typename, object_id in objects_with_ids(body):
                if typename != "Organization":  # the caller's own organization, see viewer
                    state.add(typename, object_id)
            state.cursors.update(cursors_in(body))


@pytest.fixture(scope="module")
async def world(server: LiveServer, db: Database) -> AsyncIterator[World]:
    a = await make_org(db, f"Tenant A {uuid.uuid4().hex[:6]}")
    b = await make_org(db, f"Tenant B {uuid.uuid4().hex[:6]}")
    schema = await introspect(server.graphql_url, a.test_key)
    states = {}
    for org in (a, b):
        for mode, key in (("test", org.test_key), ("live", org.live_key)):
            name = ("a" if org is a else "b") + mode
            async with GraphQLClient(server.graphql_url, key) as client:
                state = await seed_tenant(
                    client, livemode=mode == "live", marker=f"iso{name}{uuid.uuid4().hex[:10]}"
                )
            await collect_owned(server.graphql_url, key, schema, state)
            states[name] = state
    yield World(schema, a, b, states["atest"], states["alive"], states["btest"], states["blive"])


def cursors_in(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = {value["cursor"]} if isinstance(value.get("cursor"), str) else set()
        return found.union(*(cursors_in(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(cursors_in(v) for v in value))
    return set()


def principals(world: World) -> dict[str, Principal]:
    both = Seeded()
    both.merge(world.test)
    both.merge(world.live)
    both.tokens |= {world.a.id, world.a.name}  # another organization's identity, too
    owners = ((world.a.test_key, world.test), (world.a.live_key, world.live))
    return {
        "org-b-test-key": Principal("org-b-test-key", world.b.test_key, both, world.b_test, owners),
        "org-b-live-key": Principal("org-b-live-key", world.b.live_key, both, world.b_live, owners),
        "org-a-live-key-on-test-data": Principal(
            "org-a-live-key-on-test-data", world.a.live_key, world.test, world.live, (owners[0],)
        ),
        "org-a-test-key-on-live-data": Principal(
            "org-a-test-key-on-live-data", world.a.test_key, world.live, world.test, (owners[1],)
        ),
    }


def every_field(schema: GraphQLSchema) -> list[RootField]:
    return root_fields(schema, "query") + root_fields(schema, "mutation")


def all_ids(world: World) -> dict[str, list[str]]:
    merged = Seeded()
    merged.merge(world.test)
    merged.merge(world.live)
    return merged.ids


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


async def call_politely(client: GraphQLClient, call: Call) -> httpx.Response:
    """The call's response, waiting out a per-key rate limit (``Retry-After``) a few times."""
    for _ in range(10):
        response = await client.raw(call.query, call.variables)
        if response.status_code != 429:
            return response
        await asyncio.sleep(min(float(response.headers.get("retry-after", "1")), 5.0))
    return response


def problems_of(call: Call, status: int, body: Any, who: Principal) -> list[str]:
    where = f"{who.label} {call.root.key} {json.dumps(call.variables)}"
    if status != 200:
        return [f"{where}: HTTP {status} {body}"]
    found: list[str] = []
    if body.get("errors"):
        found.append(f"{where}: top-level errors {body['errors']}")
    leaks = leaked(body, who.forbidden.tokens | who.forbidden.cursors, who.forbidden.exact)
    if leaks:
        found.append(f"{where}: leaked {leaks}: {body}")
    value = (body.get("data") or {}).get(call.root.name)
    if call.with_ids and not _refused(call, value):
        found.append(f"{where}: not refused: {value}")
    return found


def _refused(call: Call, value: Any) -> bool:
    if call.root.operation == "mutation":
        codes = {e["code"] for e in (value or {}).get("userErrors") or []}
        return bool(codes) and codes <= REFUSALS and is_empty(value)
    return is_empty(value)


PRINCIPALS = [
    "org-b-test-key",
    "org-b-live-key",
    "org-a-live-key-on-test-data",
    "org-a-test-key-on-live-data",  # last: its own mutations change A's test-mode state
]


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
    async with GraphQLClient(server.graphql_url, principal.key) as client:
        for call in plan.calls:  # queries first, then mutations (schema order)
            response = await call_politely(client, call)
            problems += problems_of(call, response.status_code, response.json(), principal)
            print(
                "CALL",
                who,
                call.query[:80],
                json.dumps(call.variables)[:150],
                "=>",
                response.text[:400],
            )
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
    async with GraphQLClient(server.graphql_url, principal.key) as client:
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


# --- subscriptions ---------------------------------------------------------------------------


def subscription_fields(schema: GraphQLSchema) -> list[str]:
    return [r.name for r in root_fields(schema, "subscription")]


# Discovered from the code's schema at collection time (the same code the server runs; a test
# below checks the server publishes the same list). No subscription field yet: no cases yet.
SUBSCRIPTIONS = subscription_fields(
    schema_from_introspection(build_schema().execute_sync(INTROSPECTION_QUERY).data or {})
)


async def test_server_publishes_the_collected_subscription_fields(world: World) -> None:
    assert subscription_fields(world.schema) == SUBSCRIPTIONS


@strawberry.type
class Thing:
    id: strawberry.ID
    name: str


@strawberry.type
class ThrowawayQuery:
    thing: Thing | None = None


@strawberry.type
class ThrowawaySubscription:
    @strawberry.subscription
    async def thing_updated(self, id: strawberry.ID | None = None) -> AsyncIterator[Thing]:
        yield Thing(id=strawberry.ID("thg_1"), name="x")

    @strawberry.subscription
    async def ticks(self, after: str | None = None) -> AsyncIterator[int]:
        yield 1


def test_subscription_discovery_on_a_throwaway_schema() -> None:
    throwaway = strawberry.Schema(query=ThrowawayQuery, subscription=ThrowawaySubscription)
    schema = schema_from_introspection(throwaway.execute_sync(INTROSPECTION_QUERY).data or {})
    assert subscription_fields(schema) == ["thingUpdated", "ticks"]
    (updated, ticks) = root_fields(schema, "subscription")
    builder = ArgumentBuilder(schema, ValueFactory())
    args, slots = builder.build(updated)
    assert [s.typenames for s in slots] == [frozenset({"Thing"})]
    assert list(fill_slots(args, slots, {"Thing": ["thg_1", "thg_2"]})) == [
        {"id": "thg_1"},
        {"id": "thg_2"},
    ]
    assert builder.build(ticks) == ({}, [])
    assert "thingUpdated(id: $id) { __typename id name }" in operation_text(schema, updated, ["id"])


async def _listen(
    url: str, key: str, query: str, variables: dict[str, Any], ready: asyncio.Event, box: list[Any]
) -> None:
    """graphql-transport-ws: subscribe, then append every message until cancelled."""
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"x-api-key": key}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        payload = {"query": query, "variables": variables}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        ready.set()
        async for message in ws:
            box.append(json.loads(message))


@pytest.mark.parametrize("field_name", SUBSCRIPTIONS)
async def test_subscription_never_delivers_a_foreign_event(
    server: LiveServer, world: World, field_name: str
) -> None:
    """B's and A's other-mode subscriptions get nothing while A's own one (the control) sees
    the events of fresh activity in A's test mode."""
    (root,) = [r for r in root_fields(world.schema, "subscription") if r.name == field_name]
    listeners: list[tuple[str, Seeded, list[Any], asyncio.Task[None]]] = []
    everyone = principals(world)
    own = Principal("org-a-test-key", world.a.test_key, Seeded(), world.test, ())
    for principal in [own, everyone["org-b-test-key"], everyone["org-b-live-key"]] + [
        everyone["org-a-live-key-on-test-data"]
    ]:
        ids = world.test.ids if principal is own else principal.forbidden.ids
        plan = plan_calls(world.schema, [root], ids, principal.own.ids)
        assert plan.unhandled == {}, plan.unhandled
        for call in plan.calls:
            ready = asyncio.Event()
            box: list[Any] = []
            task = asyncio.create_task(
                _listen(server.ws_url, principal.key, call.query, call.variables, ready, box)
            )
            await asyncio.wait_for(ready.wait(), 10)
            listeners.append((principal.label, principal.forbidden, box, task))
    fresh_marker = f"isoafresh{uuid.uuid4().hex[:8]}"
    async with GraphQLClient(server.graphql_url, world.a.test_key) as client:
        await seed_tenant(client, livemode=False, marker=fresh_marker)
    control = listeners[0][2]
    for _ in range(100):
        if any(m.get("type") == "next" for m in control):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # give foreign deliveries, if any, the same chance
    for _, _, _, task in listeners:
        task.cancel()
    assert any(m.get("type") == "next" for m in control), "control got no event: add a trigger"
    for label, _, box, _ in listeners[1:]:
        delivered = [m for m in box if m.get("type") == "next"]
        assert delivered == [], f"{label} received A's events: {delivered}"


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
