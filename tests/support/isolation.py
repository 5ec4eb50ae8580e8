"""Shared machinery of the tenant-isolation tests: the seeded world, the principals that must
see none of organization A's data, call planning from the schema and the checks on responses.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from graphql import GraphQLInterfaceType, GraphQLNonNull, GraphQLObjectType, GraphQLSchema

from services.infra.database import Database
from tests.conftest import make_org
from tests.support.client_sessions import ALL_SCOPES, mint
from tests.support.graphql import GraphQLClient
from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg
from tests.support.schema_walk import (
    INTROSPECTION_QUERY,
    ArgumentBuilder,
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
    # A client session (every scope) minted with ``key`` when the test starts (an earlier
    # principal's revokeClientSessions call would have refused one minted beforehand).
    session: bool = False

    async def credential(self, graphql_url: str) -> str:
        if not self.session:
            return self.key
        return await mint(graphql_url, self.key, ALL_SCOPES, 3600)


async def introspect(url: str, key: str) -> GraphQLSchema:
    async with GraphQLClient(url, key) as client:
        return schema_from_introspection(await client.data(INTROSPECTION_QUERY))


def argless_queries(schema: GraphQLSchema) -> list[RootField]:
    return [
        r
        for r in root_fields(schema, "query")
        if not any(isinstance(a.type, GraphQLNonNull) for a in r.definition.args.values())
    ]


async def _within_rate_limit(
    client: GraphQLClient, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A snapshot reads every object of a world: it may outrun the key's rate limit, which it
    then waits out as any client would (``Retry-After``)."""
    for _ in range(30):
        response = await client.raw(query, variables)
        if response.status_code != 429:
            break
        await asyncio.sleep(float(response.headers.get("retry-after", "1")))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def snapshot(client: GraphQLClient, schema: GraphQLSchema, state: Seeded) -> dict[str, Any]:
    """Everything the owner sees: each argument-less query and ``node`` of each owned id."""
    seen: dict[str, Any] = {}
    for root in argless_queries(schema):
        seen[root.name] = _data_and_errors(
            await _within_rate_limit(client, operation_text(schema, root, []))
        )
    node = next(r for r in root_fields(schema, "query") if r.name == "node")
    query = operation_text(schema, node, ["id"])
    for ids in state.ids.values():
        for object_id in ids:
            seen[object_id] = _data_and_errors(
                await _within_rate_limit(client, query, {"id": object_id})
            )
    return seen


def _data_and_errors(result: dict[str, Any]) -> dict[str, Any]:
    # extensions (query cost, the rate-limit bucket's level) change with every request.
    return {k: v for k, v in result.items() if k != "extensions"}


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
                # Node ids only (Viewer and Balance ids are cache keys, not node(id) ids); not
                # the caller's own organization either: both modes share it (see viewer).
                if typename != "Organization" and _is_node(schema, typename):
                    state.add(typename, object_id)
            state.cursors.update(cursors_in(body))


def _is_node(schema: GraphQLSchema, typename: str) -> bool:
    node, named = schema.get_type("Node"), schema.get_type(typename)
    return (
        isinstance(node, GraphQLInterfaceType)
        and isinstance(named, GraphQLObjectType)
        and (schema.is_sub_type(node, named))
    )


async def build_world(server: LiveServer, db: Database) -> World:
    """Organizations A and B, each seeded in test and live mode over HTTP."""
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
    return World(schema, a, b, states["atest"], states["alive"], states["btest"], states["blive"])


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
        "org-b-test-session": Principal(
            "org-b-test-session", world.b.test_key, both, world.b_test, owners, True
        ),
        "org-b-live-session": Principal(
            "org-b-live-session", world.b.live_key, both, world.b_live, owners, True
        ),
        "org-a-live-session-on-test-data": Principal(
            "org-a-live-session-on-test-data",
            world.a.live_key,
            world.test,
            world.live,
            (owners[0],),
            True,
        ),
    }


def every_field(schema: GraphQLSchema) -> list[RootField]:
    return root_fields(schema, "query") + root_fields(schema, "mutation")


def all_ids(world: World) -> dict[str, list[str]]:
    merged = Seeded()
    merged.merge(world.test)
    merged.merge(world.live)
    return merged.ids


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
    if who.session and status in (200, 403) and _codes(body) == {"FORBIDDEN"}:
        return []  # outside the session's scopes: refused whole, before anything ran
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


def _codes(body: Any) -> set[Any]:
    errors = body.get("errors") if isinstance(body, dict) else None
    return {(e.get("extensions") or {}).get("code") for e in errors or []}


def _refused(call: Call, value: Any) -> bool:
    if call.root.operation == "mutation":
        codes = {e["code"] for e in (value or {}).get("userErrors") or []}
        return bool(codes) and codes <= REFUSALS and is_empty(value)
    return is_empty(value)


PRINCIPALS = [
    "org-b-test-key",
    "org-b-live-key",
    "org-a-live-key-on-test-data",
    "org-b-test-session",
    "org-b-live-session",
    "org-a-live-session-on-test-data",
    "org-a-test-key-on-live-data",  # last: its own mutations change A's test-mode state
]
