"""The official Node SDK (@commet/node 7.x, API version 2026-07-11) against /api/v1: every
method of ``payouts`` and ``planGroups``, success and error paths, typed errors, idempotent
retries, in the response shapes of its API version."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.accounts import wait_for_account_status
from tests.support.graphql import GraphQLClient
from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg
from tests.support.payouts import balance, credit, wait_for_status
from tests.support.rest import call, kyc_body, node_sdk

pytestmark = pytest.mark.e2e


def ok(line: dict[str, Any]) -> Any:
    assert line["ok"], line
    assert line["result"]["success"] is True, line
    return line["result"]["data"]


def error(line: dict[str, Any]) -> dict[str, Any]:
    assert not line["ok"], line
    failure: dict[str, Any] = line["error"]
    return failure


async def test_payouts_resource(server: LiveServer, org: TestOrg) -> None:
    first = await node_sdk(
        server,
        org.test_key,
        [
            call(
                "payouts", "completeVerification", kyc_body(documentUrl="http://example.com/id.pdf")
            ),
            call("payouts", "completeVerification", kyc_body()),
        ],
    )
    rejected = error(first[0])
    assert rejected["class"] == "CommetValidationError"
    assert list(rejected["validationErrors"]) == ["documentUrl"]
    created = ok(first[1])
    assert created == {
        "id": created["id"],
        "providerAccountId": created["providerAccountId"],
        "status": "pending_verification",
        "transfersEnabled": False,
        "businessType": "individual",
        "country": "GB",
        "alreadyExists": False,
        "object": "payout_account",
        "livemode": False,
    }
    async with GraphQLClient(server.graphql_url, org.test_key) as gql:
        await wait_for_account_status(gql, "VERIFIED")
        await credit(gql, 40_000)
    key = f"node-{uuid.uuid4()}"
    request = {"amount": 12_000, "description": "From Node"}
    lines = await node_sdk(
        server,
        org.test_key,
        [
            call("payouts", "completeVerification", kyc_body()),
            call(
                "payouts",
                "addBankAccount",
                {"accountNumber": "000111122223", "accountHolderName": "Ada", "setDefault": False},
            ),
            call("payouts", "request", request, idempotencyKey=key),
            call("payouts", "request", request, idempotencyKey=key),
            call("payouts", "request", {"amount": 999}),
            call("payouts", "request", {"amount": 10_000_000}),
            call(
                "payouts",
                "addBankAccount",
                {"accountNumber": "000111122223", "accountHolderName": "Ada"},
            ),
            call("payouts", "request", {"amount": 5_000, "currency": "eur"}),
        ],
    )
    existing = ok(lines[0])
    assert (existing["alreadyExists"], existing["status"], existing["transfersEnabled"]) == (
        True,
        "verified",
        True,
    )
    assert "businessType" not in existing and "outcome" not in existing
    bank = ok(lines[1])
    assert (bank["last4"], bank["isDefault"], bank["object"]) == (
        "2223",
        False,
        "payout_bank_account",
    )
    payout = ok(lines[2])
    assert (payout["status"], payout["amount"], payout["netAmount"], payout["object"]) == (
        "pending",
        12_000,
        12_000,
        "payout",
    )
    assert ok(lines[3])["id"] == payout["id"]
    small = error(lines[4])
    assert (small["class"], small["validationErrors"]) == (
        "CommetValidationError",
        {"amount": ["amount must be at least 1000"]},
    )
    broke = error(lines[5])
    assert (broke["class"], broke["statusCode"], broke["code"]) == (
        "CommetAPIError",
        400,
        "insufficient_balance",
    )
    duplicate = error(lines[6])
    assert (duplicate["statusCode"], duplicate["code"]) == (409, "duplicate")
    unknown = error(lines[7])
    assert unknown["validationErrors"] == {
        "currency": ["unknown field: this endpoint does not accept it"]
    }
    async with GraphQLClient(server.graphql_url, org.test_key) as gql:
        await wait_for_status(gql, payout["id"], "PAID")
        money = await balance(gql)
    assert (money["available"], money["paidOut"]) == (28_000, 12_000)


async def test_plan_groups_resource(server: LiveServer, org: TestOrg) -> None:
    suffix = uuid.uuid4().hex[:6]
    lines = await node_sdk(
        server,
        org.test_key,
        [
            call("planGroups", "create", {"name": "Tiers", "description": "Ladder"}),  # 0
            call("plans", "create", {"name": "Basic", "code": f"basic_{suffix}"}),  # 1
            call("plans", "create", {"name": "Pro", "code": f"pro_{suffix}"}),  # 2
            call("planGroups", "addPlan", {"id": "$0.data.id", "planId": "$1.data.id"}),  # 3
            call(
                "planGroups",
                "addPlan",
                {"id": "$0.data.id", "planId": "$2.data.id", "sortOrder": 0},
            ),  # 4
            call("planGroups", "get", {"id": "$0.data.id"}),  # 5
            call(
                "planGroups",
                "reorderPlans",
                {"id": "$0.data.id", "planIds": ["$1.data.id", "$2.data.id"]},
            ),  # 6
            call("planGroups", "removePlan", {"id": "$0.data.id", "planId": "$2.data.id"}),  # 7
            call("planGroups", "update", {"id": "$0.data.id", "name": "Ladder", "isPublic": True}),
            call("planGroups", "list", {"limit": 1}),  # 9
            call("planGroups", "reorderPlans", {"id": "$0.data.id", "planIds": ["$2.data.id"]}),
            call("planGroups", "get", {"id": "plg_missing"}),  # 11
            call("planGroups", "create", {"name": ""}),  # 12
            call("planGroups", "delete", {"id": "$0.data.id"}),  # 13
            call("planGroups", "delete", {"id": "$0.data.id"}),  # 14
        ],
    )
    group = ok(lines[0])
    assert (group["name"], group["description"], group["object"]) == (
        "Tiers",
        "Ladder",
        "plan_group",
    )
    # API 2026-07-11 names every membership answer "plan_group".
    assert ok(lines[3]) == {"success": True, "object": "plan_group", "livemode": False}
    detail = ok(lines[5])
    assert [(p["name"], p["sortOrder"]) for p in detail["plans"]] == [("Pro", 0), ("Basic", 1)]
    assert ok(lines[6]) == {"reordered": True, "object": "plan_group", "livemode": False}
    removed = ok(lines[7])
    assert (removed["id"], removed["removed"], removed["object"]) == (
        ok(lines[2])["id"],
        True,
        "plan_group",
    )
    updated = ok(lines[8])
    assert (updated["name"], updated["isPublic"]) == ("Ladder", True)
    page = lines[9]["result"]
    assert page["success"] is True and isinstance(page["data"], list) and len(page["data"]) == 1
    assert isinstance(page["hasMore"], bool)
    incomplete = error(lines[10])
    assert (incomplete["statusCode"], incomplete["code"]) == (400, "invalid_plan_order")
    missing = error(lines[11])
    assert (missing["statusCode"], missing["code"]) == (404, "plan_group_not_found")
    assert error(lines[12])["validationErrors"] == {"name": ["must not be empty"]}
    deleted = ok(lines[13])
    assert deleted == {
        "id": group["id"],
        "deleted": True,
        "object": "plan_group",
        "livemode": False,
    }
    assert error(lines[14])["code"] == "plan_group_not_found"
