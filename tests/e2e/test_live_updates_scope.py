"""Who hears what: two organizations × two modes, two server processes on one PostgreSQL
database, and the graphql-ws npm client (Node.js)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from models import Event
from services.infra.database import Database
from services.infra.event_streams import decode_event_cursor, encode_event_cursor, log_head
from services.ledger import service as ledger
from tests.conftest import make_org
from tests.support.accounts import (
    complete_verification,
    individual_input,
    wait_for_account_status,
)
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
from tests.support.live_server import ROOT, LiveServer, free_port, start_server
from tests.support.orgs import TestOrg
from tests.support.payout_setup import verify_through_api
from tests.support.payouts import credit, request_payout, wait_for_status

pytestmark = pytest.mark.e2e

NODE_CLIENT = ROOT / "tests" / "support" / "graphql_ws_client.mjs"
FIELDS = {
    "payout": PAYOUT_UPDATED,
    "balance": BALANCE_UPDATED,
    "payout_account": PAYOUT_ACCOUNT_UPDATED,
}


async def _logged(db: Database, org_id: str, livemode: bool, object_type: str, after: int) -> Any:
    """The (seq, type) of every event the log holds for this scope after ``after``."""
    async with db.read() as session:
        rows = await session.execute(
            sa.select(col(Event.seq), col(Event.type))
            .where(
                col(Event.organization_id) == org_id,
                col(Event.livemode) == livemode,
                col(Event.object_type) == object_type,
                col(Event.seq) > after,
            )
            .order_by(col(Event.seq))
        )
        return [(int(seq), str(kind)) for seq, kind in rows.all()]


async def _live_mode_credit(db: Database, org_id: str, amount: int) -> None:
    """Live mode has no test mutations: a live-mode balance change made by the ledger
    service directly, heard by subscribers through the log (``after``)."""
    async with db.transaction() as session:
        await ledger.credit(
            session,
            organization_id=org_id,
            livemode=True,
            currency="usd",
            amount=amount,
            description="live-mode change",
            available_in_seconds=0,
        )


async def test_subscribers_only_ever_see_their_own_organization_and_mode(
    server: LiveServer, db: Database
) -> None:
    orgs = [await make_org(db, "Scope A"), await make_org(db, "Scope B")]
    for org in orgs:
        await verify_through_api(server, org)
    starts = {org.id: await log_head(db, org.id) for org in orgs}
    for org in orgs:
        await _live_mode_credit(db, org.id, 4_000)
    baseline = await open_subscriptions(server)
    subscribers: dict[tuple[str, bool, str], Subscriber] = {}
    async with (
        ws_session(server.ws_url, orgs[0].test_key) as a_test,
        ws_session(server.ws_url, orgs[0].live_key) as a_live,
        ws_session(server.ws_url, orgs[1].test_key) as b_test,
        ws_session(server.ws_url, orgs[1].live_key) as b_live,
    ):
        sessions = {
            (orgs[0].id, False): a_test,
            (orgs[0].id, True): a_live,
            (orgs[1].id, False): b_test,
            (orgs[1].id, True): b_live,
        }
        for (org_id, livemode), session in sessions.items():
            for object_type, query in FIELDS.items():
                subscribers[(org_id, livemode, object_type)] = Subscriber(
                    session, query, {"after": encode_event_cursor(starts[org_id])}
                )
        try:
            await wait_for_open_subscriptions(server, baseline + len(subscribers))
            async with (
                GraphQLClient(server.graphql_url, orgs[0].test_key) as a,
                GraphQLClient(server.graphql_url, orgs[1].test_key) as b,
            ):
                await credit(a, 5_000)
                await credit(b, 3_000)
                payout_id = (await request_payout(a, 2_000))["payout"]["id"]
                await wait_for_status(a, payout_id, "PAID")
                result = await complete_verification(
                    b, individual_input(account_number="000111222333")
                )
                assert not result["userErrors"], result
                await wait_for_account_status(b, "VERIFIED")
            await asyncio.sleep(0.5)  # let the last webhooks' after-commit work settle
            expected = {
                key: await _logged(db, key[0], key[1], key[2], starts[key[0]])
                for key in subscribers
            }
            for key, subscriber in subscribers.items():
                await subscriber.wait_for(len(expected[key]))
            await asyncio.sleep(1.0)  # anything stray would have arrived by now
        finally:
            for subscriber in subscribers.values():
                await subscriber.close()
    for key, subscriber in subscribers.items():
        got = [(decode_event_cursor(e["cursor"]), e["type"]) for e in subscriber.events]
        assert got == expected[key], key
    # Each scope had something to hear, and what it heard is its own.
    assert expected[(orgs[0].id, False, "payout")], "org A's payout events"
    assert expected[(orgs[0].id, True, "balance")], "org A's live-mode balance events"
    assert not expected[(orgs[1].id, False, "payout")]
    assert not expected[(orgs[0].id, True, "payout")]
    for (_org_id, livemode, object_type), subscriber in subscribers.items():
        for event in subscriber.events:
            if object_type == "balance":
                assert event["balance"]["livemode"] is livemode
            if object_type == "payout_account":
                assert event["payoutAccount"]["livemode"] is livemode


@pytest.mark.postgres_only
async def test_subscriber_on_one_process_gets_every_update_of_a_payout_made_through_another(
    private_database_url: str, tmp_path: Path
) -> None:
    second_port = free_port()
    # Both processes' sandbox workers send their webhooks to the second process.
    to_second = f"http://127.0.0.1:{second_port}"
    db = Database(private_database_url)
    try:
        org = await make_org(db, "Two processes")
        with (
            start_server(
                private_database_url, tmp_path / "first.log", PAYOUTS_PUBLIC_URL=to_second
            ) as first,
            start_server(
                private_database_url,
                tmp_path / "second.log",
                port=second_port,
                PAYOUTS_PUBLIC_URL=to_second,
            ) as second,
        ):
            await verify_through_api(second, org)
            async with GraphQLClient(second.graphql_url, org.test_key) as http:
                await credit(http, 5_000)
                after = await head_cursor(db, org.id)
                async with ws_session(first.ws_url, org.test_key) as session:
                    subscriber = Subscriber(session, PAYOUT_UPDATED, {"after": after})
                    try:
                        await wait_for_open_subscriptions(first, 1)
                        payout_id = (await request_payout(http, 2_000))["payout"]["id"]
                        await wait_for_status(http, payout_id, "PAID")
                        events = await subscriber.wait_for(3)
                    finally:
                        await subscriber.close()
            webhook_hits = [_webhook_hits(live) for live in (first, second)]
    finally:
        await db.dispose()
    assert [(e["type"], e["payout"]["id"]) for e in events] == [
        ("payout.created", payout_id),
        ("payout.in_transit", payout_id),
        ("payout.paid", payout_id),
    ]
    assert events[-1]["payout"]["status"] == "PAID"
    assert webhook_hits[0] == 0
    assert webhook_hits[1] >= 3  # the account's verification, in transit, paid


def _webhook_hits(live: LiveServer) -> int:
    return sum(
        1
        for line in live.log_text().splitlines()
        if '"payouts.access"' in line and '"route":"/webhooks/{provider}"' in line
    )


async def test_graphql_ws_npm_client_receives_a_balance_update(
    server: LiveServer, db: Database, org: TestOrg
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as http:
        await credit(http, 1_000)  # so that there is a cursor to subscribe after
    after = await head_cursor(db, org.id)
    assert after is not None
    query = "subscription ($after: String) { balanceUpdated(after: $after) { type balance { available } } }"
    node = await asyncio.create_subprocess_exec(
        "node",
        str(NODE_CLIENT),
        server.ws_url,
        org.test_key,
        "2",
        query,
        json.dumps({"after": after}),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert node.stdout is not None
        ready = await asyncio.wait_for(node.stdout.readline(), 20)
        assert ready.strip() == b"ready"
        async with GraphQLClient(server.graphql_url, org.test_key) as http:
            await credit(http, 1_234)
        out, err = await asyncio.wait_for(node.communicate(), 20)
    finally:
        if node.returncode is None:
            node.kill()
            await node.wait()
    assert node.returncode == 0, err.decode()
    results = [json.loads(line) for line in out.decode().splitlines()]
    assert [r["data"]["balanceUpdated"]["type"] for r in results] == ["balance.updated"] * 2
    assert results[-1]["data"]["balanceUpdated"]["balance"]["available"] == 2_234
