"""The product's subscriptions (``payoutUpdated``, ``payoutAccountUpdated``,
``balanceUpdated``) on the real server over graphql-transport-ws (gql), with the sandbox's
signed webhooks moving payouts (0.2 s delay)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from gql.transport.exceptions import TransportQueryError
from sqlmodel import col

from models import ProviderEvent
from models.payout import Payout as PayoutRow
from services.infra.database import Database
from services.infra.event_streams import decode_event_cursor
from tests.conftest import make_org
from tests.support.accounts import complete_verification, individual_input
from tests.support.graphql import GraphQLClient
from tests.support.live_client import (
    BALANCE_UPDATED,
    PAYOUT_ACCOUNT_UPDATED,
    PAYOUT_UPDATED,
    Subscriber,
    head_cursor,
    open_subscriptions,
    wait_for_open_subscriptions,
    ws_session,
)
from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg
from tests.support.payout_setup import verify_through_api
from tests.support.payouts import credit, request_payout, wait_for_status

pytestmark = pytest.mark.e2e


@pytest.fixture
async def other_org(db: Database) -> TestOrg:
    return await make_org(db, "Other Org")


STATES = [
    ("payout.created", "PENDING"),
    ("payout.in_transit", "IN_TRANSIT"),
    ("payout.paid", "PAID"),
]


async def _webhook_landings(db: Database, payout_id: str) -> dict[str, datetime]:
    """When each provider webhook of the payout's transfer was stored, by transfer status."""
    async with db.read() as session:
        payout = await session.get(PayoutRow, payout_id)
        assert payout is not None and payout.provider_transfer_id is not None
        rows = (
            await session.execute(
                sa.select(ProviderEvent).where(
                    col(ProviderEvent.object_id) == payout.provider_transfer_id
                )
            )
        ).scalars()
        landed = {}
        for row in rows:
            status = _status_of(json.loads(row.data))
            if status is not None:
                landed[status] = row.received_at
        return landed


def _status_of(data: Any) -> str | None:
    if isinstance(data, dict):
        if isinstance(data.get("status"), str):
            return str(data["status"])
        for value in data.values():
            found = _status_of(value)
            if found is not None:
                return found
    return None


async def _payout_created_at(db: Database, payout_id: str) -> datetime:
    async with db.read() as session:
        payout = await session.get(PayoutRow, payout_id)
        assert payout is not None
        return payout.created_at


async def _funded(server: LiveServer, org: TestOrg, amount: int = 10_000) -> None:
    await verify_through_api(server, org)
    async with GraphQLClient(server.graphql_url, org.test_key) as http:
        await credit(http, amount)


async def test_payout_updated_delivers_pending_in_transit_paid_within_a_second_of_each_webhook(
    server: LiveServer, db: Database, org: TestOrg
) -> None:
    await _funded(server, org)
    baseline = await open_subscriptions(server)
    async with ws_session(server.ws_url, org.test_key) as session:
        subscriber = Subscriber(session, PAYOUT_UPDATED, {"after": await head_cursor(db, org.id)})
        try:
            await wait_for_open_subscriptions(server, baseline + 1)
            async with GraphQLClient(server.graphql_url, org.test_key) as http:
                payout_id = (await request_payout(http, 2_500))["payout"]["id"]
                await wait_for_status(http, payout_id, "PAID")
            events = await subscriber.wait_for(3)
        finally:
            await subscriber.close()
    assert [(e["type"], e["payout"]["status"]) for e in events] == STATES
    assert all(e["payout"]["id"] == payout_id for e in events)
    assert [s["status"] for s in events[-1]["payout"]["statusHistory"]] == [
        "PENDING",
        "IN_TRANSIT",
        "PAID",
    ]
    seqs = [decode_event_cursor(e["cursor"]) for e in events]
    assert seqs == sorted(seqs)
    landed = await _webhook_landings(db, payout_id)
    started = {
        "payout.created": await _payout_created_at(db, payout_id),
        "payout.in_transit": landed["in_transit"],
        "payout.paid": landed["paid"],
    }
    for received in subscriber.received:
        latency = (received.at - started[received.data["type"]]).total_seconds()
        assert 0 <= latency < 1.0, (received.data["type"], latency)


async def test_payout_updated_resumes_after_a_disconnect_with_each_missed_event_once(
    server: LiveServer, db: Database, org: TestOrg
) -> None:
    await _funded(server, org)
    async with GraphQLClient(server.graphql_url, org.test_key) as http:
        async with ws_session(server.ws_url, org.test_key) as session:
            first = Subscriber(session, PAYOUT_UPDATED, {"after": await head_cursor(db, org.id)})
            try:
                payout_id = (await request_payout(http, 1_000))["payout"]["id"]
                created = (await first.wait_for(1))[0]
            finally:
                await first.close()
        assert created["type"] == "payout.created"
        await wait_for_status(http, payout_id, "PAID")

        async with ws_session(server.ws_url, org.test_key) as session:
            resumed = Subscriber(
                session, PAYOUT_UPDATED, {"id": payout_id, "after": created["cursor"]}
            )
            other = Subscriber(session, PAYOUT_UPDATED, {"after": created["cursor"]})
            try:
                missed = await resumed.wait_for(2)
                second_id = (await request_payout(http, 1_500))["payout"]["id"]
                await wait_for_status(http, second_id, "PAID")
                seen = await other.wait_for(5)
                assert len(resumed.events) == 2  # nothing more about the first payout
            finally:
                await resumed.close()
                await other.close()
    assert [(e["type"], e["payout"]["id"]) for e in missed] == [
        ("payout.in_transit", payout_id),
        ("payout.paid", payout_id),
    ]
    assert [(e["type"], e["payout"]["id"]) for e in seen] == [
        ("payout.in_transit", payout_id),
        ("payout.paid", payout_id),
        ("payout.created", second_id),
        ("payout.in_transit", second_id),
        ("payout.paid", second_id),
    ]
    seqs = [decode_event_cursor(e["cursor"]) for e in seen]
    assert seqs == sorted(set(seqs))


async def test_payout_updated_for_an_unknown_or_foreign_payout_is_refused_not_found(
    server: LiveServer, db: Database, org: TestOrg, other_org: TestOrg
) -> None:
    await _funded(server, org)
    async with GraphQLClient(server.graphql_url, org.test_key) as http:
        payout_id = (await request_payout(http, 1_000))["payout"]["id"]
    for key, payout in [
        (org.test_key, "po_doesnotexist"),
        (other_org.test_key, payout_id),  # another organization's payout
        (org.live_key, payout_id),  # the same organization, the other mode
    ]:
        async with ws_session(server.ws_url, key) as session:
            subscriber = Subscriber(session, PAYOUT_UPDATED, {"id": payout})
            with pytest.raises(TransportQueryError) as refused:
                await subscriber.wait_for(1, timeout=10)
            await subscriber.close()
        assert refused.value.errors is not None
        error = refused.value.errors[0]
        assert error["extensions"]["code"] == "NOT_FOUND", error
        assert "No payout with this id" in error["message"]


async def test_balance_updated_and_payout_account_updated_receive_their_events(
    server: LiveServer, db: Database, org: TestOrg
) -> None:
    async with (
        ws_session(server.ws_url, org.test_key) as session,
        GraphQLClient(server.graphql_url, org.test_key) as http,
    ):
        await credit(http, 700)  # before subscribing: the events come after its cursor
        after = {"after": await head_cursor(db, org.id)}
        balances = Subscriber(session, BALANCE_UPDATED, after)
        accounts = Subscriber(session, PAYOUT_ACCOUNT_UPDATED, after)
        try:
            await credit(http, 300)
            result = await complete_verification(http, individual_input())
            assert not result["userErrors"], result
            balance_events = await balances.wait_for(2)  # the credit: pending, then released
            account_events = await accounts.wait_for(2)
        finally:
            await balances.close()
            await accounts.close()
    assert [e["type"] for e in balance_events] == ["balance.updated"] * 2
    assert balance_events[-1]["balance"]["available"] == 1000  # each read when delivered
    assert all(e["balance"]["pending"] in (0, 300) for e in balance_events)
    seqs = [decode_event_cursor(e["cursor"]) for e in balance_events]
    assert seqs == sorted(set(seqs))
    assert all(e["balance"]["livemode"] is False for e in balance_events)
    assert [e["type"] for e in account_events] == ["payout_account.updated"] * 2
    assert [e["payoutAccount"]["status"] for e in account_events] == [
        "PENDING_VERIFICATION",
        "VERIFIED",
    ]
