"""A payout requested over REST is the payout GraphQL shows and subscriptions push."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.infra.database import Database
from tests.support.graphql import GraphQLClient
from tests.support.live_client import (
    BALANCE_UPDATED,
    PAYOUT_UPDATED,
    Subscriber,
    head_cursor,
    ws_session,
)
from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg
from tests.support.payout_setup import verify_through_api
from tests.support.payouts import credit, payout
from tests.support.rest import python_sdk

pytestmark = pytest.mark.e2e

PAYOUTS = "{ payouts(first: 5) { edges { node { id amount status description } } } }"


async def _until_paid(subscriber: Subscriber, payout_id: str) -> list[dict[str, Any]]:
    async with asyncio.timeout(30):
        while True:
            events = await subscriber.wait_for(len(subscriber.received) + 1)
            mine = [e for e in events if e["payout"]["id"] == payout_id]
            if any(e["payout"]["status"] == "PAID" for e in mine):
                return mine


async def test_rest_payout_is_shown_by_graphql_and_pushed_live(
    server: LiveServer, org: TestOrg, db: Database
) -> None:
    await verify_through_api(server, org)
    async with GraphQLClient(server.graphql_url, org.test_key) as gql:
        await credit(gql, 25_000)
    after = await head_cursor(db, org.id)
    async with ws_session(server.ws_url, org.test_key) as session:
        payouts_live = Subscriber(session, PAYOUT_UPDATED, {"after": after})
        balance_live = Subscriber(session, BALANCE_UPDATED, {"after": after})
        try:
            async with python_sdk(server, org.test_key) as sdk:
                created = await sdk.payouts.request(amount=15_000, description="via REST")
            events = await _until_paid(payouts_live, created.id)
            balances = await balance_live.wait_for(1)
        finally:
            await payouts_live.close()
            await balance_live.close()
    types = [e["type"] for e in events]
    assert types[0] == "payout.created" and types[-1] == "payout.paid", types
    assert all(e["payout"]["amount"] == 15_000 for e in events)
    assert any(b["balance"]["inTransit"] == 15_000 for b in balances)
    async with GraphQLClient(server.graphql_url, org.test_key) as gql:
        shown = await payout(gql, created.id)
        listed = (await gql.data(PAYOUTS))["payouts"]["edges"]
    assert (shown["amount"], shown["status"]) == (15_000, "PAID")
    assert {"id": created.id, "amount": 15_000, "status": "PAID", "description": "via REST"} in [
        edge["node"] for edge in listed
    ]
