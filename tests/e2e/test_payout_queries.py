"""Payout and ledger queries: keyset paging, status filter, node(id), balanceTransactions,
and the release of pending funds by the release job."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.infra.database import Database
from tests.support.graphql import GraphQLClient, error_codes
from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg
from tests.support.payout_setup import verify_through_api
from tests.support.payouts import balance, credit, request_payout, wait_for_status

pytestmark = pytest.mark.e2e

PAGE = """query($after: String, $status: PayoutStatus) {
  payouts(first: 100, after: $after, status: $status) {
    edges { cursor node { id createdAt status } }
    pageInfo { hasNextPage endCursor }
  }
}"""
NODE = """query($id: ID!) { node(id: $id) { __typename id livemode
  ... on Payout { amount } ... on BalanceTransaction { type amount } } }"""
HISTORIES = "{ payouts(first: 10) { edges { node { id statusHistory { status } } } } }"
TRANSACTIONS = """query($first: Int, $after: String) {
  balanceTransactions(first: $first, after: $after) {
    edges { node { id type amount availableChange pendingChange inTransitChange
                   availableAfter pendingAfter inTransitAfter sourceType sourceId } }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def create_payouts(client: GraphQLClient, count: int) -> list[str]:
    semaphore = asyncio.Semaphore(8)

    async def one() -> str:
        async with semaphore:
            result = await request_payout(client, 1000)
        assert result["userErrors"] == [], result
        return str(result["payout"]["id"])

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def page(client: GraphQLClient, after: str | None, status: str | None = None) -> Any:
    return (await client.data(PAGE, {"after": after, "status": status}))["payouts"]


async def test_250_payouts_paged_100_at_a_time_exactly_once_in_order(
    server: LiveServer, db: Database, org: TestOrg
) -> None:
    await verify_through_api(server, org)
    async with GraphQLClient(server.graphql_url, org.test_key, timeout=120) as client:
        await credit(client, 400_000)
        created = set(await create_payouts(client, 250))
        seen: list[dict[str, Any]] = []
        after = None
        pages = 0
        while True:
            result = await page(client, after)
            pages += 1
            seen += [edge["node"] for edge in result["edges"]]
            # New payouts created during paging are newer: they must not disturb the walk.
            await create_payouts(client, 3)
            if not result["pageInfo"]["hasNextPage"]:
                break
            after = result["pageInfo"]["endCursor"]
    ids = [node["id"] for node in seen]
    assert pages == 3
    assert len(ids) == len(set(ids)) == 250
    assert set(ids) == created
    keys = [(node["createdAt"], node["id"]) for node in seen]
    assert keys == sorted(keys, reverse=True)


async def test_status_filter_and_node_lookup(
    server: LiveServer, db: Database, org: TestOrg, other_org: TestOrg
) -> None:
    await verify_through_api(server, org)
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        await credit(client, 5_000)
        first = (await request_payout(client, 1000))["payout"]["id"]
        await wait_for_status(client, first, "PAID")
        second = (await request_payout(client, 1000))["payout"]["id"]
        paid = await page(client, None, "PAID")
        node = (await client.data(NODE, {"id": first}))["node"]
        txns = (await client.data(TRANSACTIONS, {"first": 2}))["balanceTransactions"]
        txn_node = (await client.data(NODE, {"id": txns["edges"][0]["node"]["id"]}))["node"]
        histories = (await client.data(HISTORIES))["payouts"]["edges"]
    assert [e["node"]["id"] for e in paid["edges"]] == [first]
    by_id = {e["node"]["id"]: [h["status"] for h in e["node"]["statusHistory"]] for e in histories}
    assert by_id[first] == ["PENDING", "IN_TRANSIT", "PAID"]
    assert by_id[second][0] == "PENDING"
    assert second != first
    assert node == {"__typename": "Payout", "id": first, "livemode": False, "amount": 1000}
    assert txns["pageInfo"]["hasNextPage"] is True
    assert txn_node["__typename"] == "BalanceTransaction"
    async with GraphQLClient(server.graphql_url, other_org.test_key) as stranger:
        assert (await stranger.data(NODE, {"id": first}))["node"] is None
        assert (await stranger.data(NODE, {"id": txn_node["id"]}))["node"] is None
    async with GraphQLClient(server.graphql_url, org.live_key) as live:
        assert (await live.data(NODE, {"id": first}))["node"] is None


@pytest.fixture
async def other_org(db: Database) -> TestOrg:
    from tests.conftest import make_org

    return await make_org(db, "Other Org")


async def test_balance_transactions_record_every_bucket_change(
    server: LiveServer, db: Database, org: TestOrg
) -> None:
    await verify_through_api(server, org)
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        await credit(client, 7_000)
        payout_id = (await request_payout(client, 2_000))["payout"]["id"]
        txns = (await client.data(TRANSACTIONS, {"first": 10}))["balanceTransactions"]
    rows = [
        (n["type"], n["amount"], n["availableChange"], n["pendingChange"], n["inTransitChange"])
        for n in (e["node"] for e in txns["edges"])
    ]
    # Newest first; the payout may already have settled (a PAYOUT_PAID entry on top).
    assert [r for r in rows if r[0] != "PAYOUT_PAID"] == [
        ("PAYOUT", -2_000, -2_000, 0, 2_000),
        ("CREDIT_RELEASE", 7_000, 7_000, -7_000, 0),
        ("CREDIT", 7_000, 0, 7_000, 0),
    ]
    newest_first = [n["node"] for n in txns["edges"]]
    payout_entry = next(n for n in newest_first if n["type"] == "PAYOUT")
    assert payout_entry["sourceType"] == "payout" and payout_entry["sourceId"] == payout_id
    assert (payout_entry["availableAfter"], payout_entry["inTransitAfter"]) == (5_000, 2_000)


@pytest.mark.parametrize(
    "variables", [{"first": 101}, {"first": -1}, {"first": 10, "after": "not-a-cursor"}]
)
async def test_bad_page_arguments_are_bad_user_input(
    server: LiveServer, org: TestOrg, variables: dict[str, Any]
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        result = await client.execute(TRANSACTIONS, variables)
    assert error_codes(result) == ["BAD_USER_INPUT"]


async def test_pending_credit_is_released_by_the_job_at_its_time(
    server: LiveServer, org: TestOrg
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        await credit(client, 3_000, available_in_seconds=1)
        await credit(client, 1_000, available_in_seconds=3600)
        assert (await balance(client))["pending"] == 4_000
        for _ in range(100):
            current = await balance(client)
            if current["available"] == 3_000:
                break
            await asyncio.sleep(0.1)
    assert (current["available"], current["pending"]) == (3_000, 1_000)
