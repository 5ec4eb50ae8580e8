"""Concurrent payouts over real HTTP: never more than the available balance, one payout per
idempotency key, and a clean ledger afterwards."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest

from services.infra.database import Database
from tests.support.graphql import GraphQLClient
from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg
from tests.support.payout_setup import verify_through_api
from tests.support.payouts import balance, credit, request_payout, verify_ledger

pytestmark = pytest.mark.e2e

PAYOUT_IDS = "{ payouts(first: 100) { edges { node { id amount } } } }"


async def test_fifty_concurrent_payouts_never_overdraw(
    server: LiveServer, db: Database, org: TestOrg, database_url: str
) -> None:
    await verify_through_api(server, org)
    async with GraphQLClient(server.graphql_url, org.test_key, timeout=120) as client:
        await credit(client, 10_000)
        results = await asyncio.gather(*(request_payout(client, 1000) for _ in range(50)))
        final = await balance(client)
        listed = (await client.data(PAYOUT_IDS))["payouts"]["edges"]
    outcomes = Counter(
        "ok" if r["payout"] else ",".join(e["code"] for e in r["userErrors"]) for r in results
    )
    assert outcomes == {"ok": 10, "INSUFFICIENT_BALANCE": 40}
    assert final["available"] == 0
    assert final["inTransit"] + final["paidOut"] == 10_000
    assert len(listed) == 10
    check = verify_ledger(database_url)
    assert check.returncode == 0, check.stdout + check.stderr
    assert json.loads(check.stdout) == {"ok": True, "violations": []}


async def test_fifty_concurrent_requests_with_one_idempotency_key_make_one_payout(
    server: LiveServer, db: Database, org: TestOrg, database_url: str
) -> None:
    await verify_through_api(server, org)
    async with GraphQLClient(server.graphql_url, org.test_key, timeout=120) as client:
        await credit(client, 10_000)
        results = await asyncio.gather(
            *(request_payout(client, 1000, idempotencyKey="same-key") for _ in range(50))
        )
        final = await balance(client)
        listed = (await client.data(PAYOUT_IDS))["payouts"]["edges"]
        replay = await request_payout(client, 1000, idempotencyKey="same-key")
    ids = {r["payout"]["id"] for r in results if r["payout"]}
    codes = {e["code"] for r in results for e in r["userErrors"]}
    assert len(listed) == 1
    assert ids == {listed[0]["node"]["id"]}
    assert codes <= {"IDEMPOTENCY_IN_PROGRESS"}
    assert replay["payout"]["id"] == listed[0]["node"]["id"]
    assert final["available"] == 9_000
    check = verify_ledger(database_url)
    assert check.returncode == 0, check.stdout + check.stderr
