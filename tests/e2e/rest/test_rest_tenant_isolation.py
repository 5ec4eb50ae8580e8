"""Tenant isolation of /api/v1, generated from the route table (the GraphQL suite's world,
principals and leak scan: ``tests/support/isolation.py``).

Every operation is called by organization B's keys and by A's key of the other mode, with A's
ids in every path parameter and id body field — alone and mixed with the caller's own ids —
and the list with A's cursors: an operation given a foreign id must refuse it (404, or 400
``invalid_plan_order`` for the caller's own group), no response may contain A's ids, cursors
or distinctive values, and A's data must be unchanged afterwards.
"""

from __future__ import annotations

import itertools
import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from api.rest.pipeline import Operation
from api.rest.routes import OPERATIONS
from services.infra.database import Database
from tests.support.isolation import (
    PRINCIPALS,
    Principal,
    World,
    build_world,
    principals,
    stable_snapshot,
)
from tests.support.live_server import LiveServer
from tests.support.rest import RestClient
from tests.support.schema_walk import leaked

pytestmark = pytest.mark.e2e

# The GraphQL type of the object each id slot names (path parameters keyed by the resource).
ID_SLOTS = {
    "/plan-groups/{id}": "PlanGroup",
    "/plans/{id}": "Plan",
    "/webhooks/{id}": "WebhookEndpoint",
    "{planId}": "Plan",
    "planId": "Plan",
    "planIds": "Plan",
    "planGroupId": "PlanGroup",
}
# A valid body per operation; id fields get filled from the slots.
BODIES: dict[str, dict[str, Any]] = {
    "request-payout": {"amount": 1000},
    "add-payout-bank-account": {"accountNumber": "000999988887", "accountHolderName": "B"},
    "complete-payout-verification": {},
    "create-plan-group": {"name": "made by another tenant"},
    "update-plan-group": {"name": "renamed by another tenant", "isPublic": True},
    "add-plan-to-group": {"planId": None, "sortOrder": 0},
    "reorder-plans-in-group": {"planIds": [None]},
    "create-plan": {"name": "iso", "code": None, "planGroupId": None},
    "create-plan-manage": {"name": "iso", "code": None, "planGroupId": None},
    "create-webhook-endpoint": {"url": "https://localhost/hook", "events": []},
    "update-webhook-endpoint": {"description": "changed by another tenant", "isActive": False},
}
REFUSED = {404, 400}


@dataclass
class RestCall:
    operation: Operation
    method: str
    path: str
    body: dict[str, Any] | None
    foreign: bool  # carries at least one of A's ids

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.body}"


def slots_of(op: Operation) -> list[tuple[str, str]]:
    """(slot, GraphQL type) of each id the operation takes, path first."""
    found = []
    for name in re.findall(r"{(\w+)}", op.path):
        key = f"{op.path.split('/{')[0]}/{{{name}}}" if name == "id" else f"{{{name}}}"
        found.append((f"path:{name}", ID_SLOTS[key]))
    for name in BODIES.get(op.operation_id, {}):
        if name in ID_SLOTS:
            found.append((f"body:{name}", ID_SLOTS[name]))
    return found


def build_call(op: Operation, method: str, values: dict[str, str]) -> RestCall:
    path = op.path
    for name in re.findall(r"{(\w+)}", op.path):
        path = path.replace(f"{{{name}}}", values[f"path:{name}"])
    body: dict[str, Any] | None = None
    if op.body is not None:
        body = {}
        for name, value in BODIES[op.operation_id].items():
            if name == "code":
                body[name] = f"iso_{uuid.uuid4().hex[:8]}"
            elif f"body:{name}" in values:
                given = values[f"body:{name}"]
                body[name] = [given] if isinstance(value, list) else given
            else:
                body[name] = value
    return RestCall(op, method, path, body, foreign=False)


def plan_calls(principal: Principal) -> list[RestCall]:
    calls = []
    for op in OPERATIONS:
        slots = slots_of(op)
        for method in op.methods:
            if not slots:
                calls.append(build_call(op, method, {}))
                continue
            for foreign_slot, _ in slots:
                # This slot gets each of A's ids; the others the caller's own first id (else A's).
                kind = dict(slots)[foreign_slot]
                for foreign_id in principal.forbidden.ids.get(kind, []):
                    values = {foreign_slot: foreign_id}
                    for slot, other_kind in slots:
                        if slot != foreign_slot:
                            own = principal.own.ids.get(other_kind, [])
                            values[slot] = own[0] if own else principal.forbidden.ids[other_kind][0]
                    call = build_call(op, method, values)
                    call.foreign = True
                    calls.append(call)
    return calls


def problems_of(call: RestCall, status: int, body: Any, who: Principal) -> list[str]:
    where = f"{who.label} {call}"
    found = []
    if status >= 500:
        found.append(f"{where}: HTTP {status} {body}")
    if call.foreign and status not in REFUSED:
        found.append(f"{where}: not refused: HTTP {status} {body}")
    if call.foreign and status == 400 and body["error"]["code"] != "invalid_plan_order":
        found.append(f"{where}: refused for another reason: {body}")
    leaks = leaked(body, who.forbidden.tokens | who.forbidden.cursors, who.forbidden.exact)
    if leaks:
        found.append(f"{where}: leaked {leaks}: {body}")
    return found


@pytest.fixture(scope="module")
async def world(server: LiveServer, db: Database) -> World:
    return await build_world(server, db)


def test_every_id_taking_operation_is_covered() -> None:
    for op in OPERATIONS:
        if op.body is not None:
            assert op.operation_id in BODIES, f"no sample body for {op.operation_id}"
            fields = {f.alias or name for name, f in op.body.model_fields.items()}
            ids = {f for f in fields if f.endswith(("Id", "Ids"))}
            assert ids <= set(BODIES[op.operation_id]), (op.operation_id, ids)
        for name in re.findall(r"{(\w+)}", op.path):
            assert slots_of(op), (op.path, name)


@pytest.mark.parametrize("who", PRINCIPALS)
async def test_foreign_ids_get_nothing_from_any_operation(
    server: LiveServer, world: World, who: str
) -> None:
    principal = principals(world)[who]
    before = [
        await stable_snapshot(server.graphql_url, key, world.schema, state)
        for key, state in principal.protected
    ]
    calls = plan_calls(principal)
    assert sum(call.foreign for call in calls) >= len([op for op in OPERATIONS if slots_of(op)]), (
        "A's ids never reached some operation: seed plans and plan groups"
    )
    problems: list[str] = []
    async with RestClient(server, principal.key) as rest:
        for call in calls:
            response = await rest.request(call.method, call.path, json=call.body)
            problems += problems_of(call, response.status_code, response.json(), principal)
        for cursor, limit in itertools.product(sorted(principal.forbidden.cursors), (1, 100)):
            response = await rest.request(
                "GET", "/plan-groups", params={"cursor": cursor, "limit": limit}
            )
            listing = RestCall(OPERATIONS[0], "GET", f"/plan-groups?cursor={cursor}", None, False)
            problems += problems_of(listing, response.status_code, response.json(), principal)
    after = [
        await stable_snapshot(server.graphql_url, key, world.schema, state)
        for key, state in principal.protected
    ]
    assert problems == []
    assert after == before, "A's data changed"
