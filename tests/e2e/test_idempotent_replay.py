"""An idempotent replay returns the object as it is now (issue 17, item 25): the stored payload
decides which payout, not its stale fields."""

from __future__ import annotations

import uuid

import pytest

from tests.support.graphql import GraphQLClient
from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg
from tests.support.payout_setup import verify_through_api
from tests.support.payouts import credit, request_payout, wait_for_payout

pytestmark = pytest.mark.e2e


async def test_replay_of_request_payout_shows_the_payout_as_it_is_now(
    server: LiveServer, org: TestOrg
) -> None:
    await verify_through_api(server, org)
    key = f"replay-{uuid.uuid4().hex}"
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        await credit(client, 10_000)
        first = await request_payout(client, 2_500, idempotencyKey=key)
        assert first["userErrors"] == [], first
        payout_id = first["payout"]["id"]
        now = await wait_for_payout(client, payout_id, lambda p: p["providerTransferId"])
        replayed = await request_payout(client, 2_500, idempotencyKey=key)
    assert replayed["userErrors"] == []
    assert replayed["payout"]["id"] == payout_id  # the same payout, not a new one
    # The stored payload was written before the provider call: it has no transfer id.
    assert replayed["payout"]["providerTransferId"] == now["providerTransferId"]
    assert replayed["payout"]["status"] in (now["status"], "IN_TRANSIT", "PAID")
