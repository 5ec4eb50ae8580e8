"""Tenant isolation of subscriptions: one test per subscription field of the schema.

Fields are discovered from the code's schema at collection time (the same code the server
runs; a test checks the server publishes the same list), so a new subscription field gets its
case without anyone writing it. There is no subscription field yet, hence no case yet.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import strawberry
import websockets
from graphql import GraphQLSchema, introspection_from_schema

from api.schema import build_schema
from services.infra.database import Database
from tests.support.accounts import wait_for_account_status
from tests.support.graphql import GraphQLClient
from tests.support.isolation import Principal, World, build_world, plan_calls, principals
from tests.support.live_server import LiveServer
from tests.support.schema_walk import (
    INTROSPECTION_QUERY,
    ArgumentBuilder,
    ValueFactory,
    fill_slots,
    leaked,
    operation_text,
    root_fields,
    schema_from_introspection,
)
from tests.support.tenant_seed import seed_tenant

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def world(server: LiveServer, db: Database) -> World:
    return await build_world(server, db)


def subscription_fields(schema: GraphQLSchema) -> list[str]:
    return [r.name for r in root_fields(schema, "subscription")]


# Discovered from the code's schema at collection time (the same code the server runs; a test
# below checks the server publishes the same list). No subscription field yet: no cases yet.
SUBSCRIPTIONS = subscription_fields(
    schema_from_introspection(introspection_from_schema(build_schema()._schema))
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


async def _subscribe(
    url: str, key: str, query: str, variables: dict[str, Any]
) -> tuple[list[Any], asyncio.Task[None]]:
    ready = asyncio.Event()
    box: list[Any] = []
    task = asyncio.create_task(_listen(url, key, query, variables, ready, box))
    await asyncio.wait_for(ready.wait(), 10)
    return box, task


def _next(box: list[Any]) -> list[Any]:
    return [m for m in box if m.get("type") == "next"]


SET_ACCOUNT_STATUS = """
mutation($input: TestSetPayoutAccountStatusInput!) {
  testSetPayoutAccountStatus(input: $input) { userErrors { code message } }
}"""


async def fresh_activity(client: GraphQLClient) -> None:
    """New events of every kind in A's test mode: the seeders again (balance, payouts...) and a
    round trip of the payout account's status (an existing account is not created again)."""
    await seed_tenant(client, livemode=False, marker=f"isoafresh{uuid.uuid4().hex[:8]}")
    for status in ("RESTRICTED", "VERIFIED"):
        result = await client.data(SET_ACCOUNT_STATUS, {"input": {"status": status}})
        assert result["testSetPayoutAccountStatus"]["userErrors"] == [], result
        await wait_for_account_status(client, status)


@pytest.mark.parametrize("field_name", SUBSCRIPTIONS)
async def test_subscription_never_delivers_a_foreign_event(
    server: LiveServer, world: World, field_name: str
) -> None:
    """B's and A's other-mode subscriptions (with A's ids where the field takes ids) get
    nothing of fresh activity in A's test mode, while A's own subscription without optional
    ids (the control) does: without it, silence would prove nothing."""
    (root,) = [r for r in root_fields(world.schema, "subscription") if r.name == field_name]
    builder = ArgumentBuilder(world.schema, ValueFactory())
    args, slots = builder.build(root, optional_ids=False)
    (control_vars, *_) = fill_slots(args, slots, world.test.ids)
    control_query = operation_text(world.schema, root, control_vars)
    control, control_task = await _subscribe(
        server.ws_url, world.a.test_key, control_query, control_vars
    )
    foreign: list[tuple[Principal, list[Any], asyncio.Task[None]]] = []
    everyone = principals(world)
    for label in (
        "org-b-test-key",
        "org-b-live-key",
        "org-a-live-key-on-test-data",
        "org-b-test-session",
        "org-b-live-session",
        "org-a-live-session-on-test-data",
    ):
        principal = everyone[label]
        credential = await principal.credential(server.graphql_url)
        plan = plan_calls(world.schema, [root], principal.forbidden.ids, principal.own.ids)
        assert plan.unhandled == {}, plan.unhandled
        for call in plan.calls:
            box, task = await _subscribe(server.ws_url, credential, call.query, call.variables)
            foreign.append((principal, box, task))
    async with GraphQLClient(server.graphql_url, world.a.test_key) as client:
        await fresh_activity(client)
    for _ in range(100):
        if _next(control):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # give foreign deliveries, if any, the same chance
    for task in [control_task] + [task for _, _, task in foreign]:
        task.cancel()
    assert _next(control), f"the control saw no event (add a trigger): {control}"
    for principal, box, _ in foreign:
        assert _next(box) == [], f"{principal.label} received A's events: {box}"
        forbidden = principal.forbidden
        assert leaked(box, forbidden.tokens | forbidden.cursors, forbidden.exact) == []
