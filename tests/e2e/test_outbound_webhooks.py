"""Outbound webhooks end to end (issue 14): a real uvicorn server delivers to a real receiver on
loopback, which verifies every delivery with the platform's official SDK and with
``standardwebhooks``. The server has a database of its own (its deliverer must not share the
session server's work) and allows loopback targets; the retry schedule is compressed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from models.webhook_endpoint import WebhookEndpoint
from services.infra.database import Database
from tests.conftest import make_org, migrated_database
from tests.support.graphql import GraphQLClient
from tests.support.live_server import LiveServer, start_server
from tests.support.orgs import TestOrg
from tests.support.payout_setup import insert_verified_payout_account
from tests.support.payouts import credit, request_payout, wait_for_status
from tests.support.sensitive import remember_sensitive
from tests.support.webhook_endpoints import (
    CREATE,
    ENDPOINTS,
    REDELIVER,
    ROTATE,
    SEND_TEST,
    UPDATE,
    create_endpoint,
    deliveries,
    wait_for_deliveries,
    wait_for_endpoint,
)
from tests.support.webhook_receiver import Receiver, Script, running_receiver

pytestmark = pytest.mark.e2e

RETRIES = [0.5, 1.0, 1.5]  # four attempts in all, about three seconds
WEBHOOK_ENV: dict[str, Any] = {
    "PAYOUTS_WEBHOOK_ALLOW_PRIVATE_URLS": "true",
    "PAYOUTS_WEBHOOK_RETRY_SCHEDULE": ",".join(str(s) for s in RETRIES),
    "PAYOUTS_WEBHOOK_ROTATION_OVERLAP_SECONDS": "4",
    "PAYOUTS_WEBHOOK_TIMEOUT_SECONDS": "3",
    "PAYOUTS_WEBHOOK_LEASE_SECONDS": "5",
    "PAYOUTS_WEBHOOK_POLL_INTERVAL_SECONDS": "0.1",
}


@pytest.fixture(scope="module")
def wh_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with migrated_database(tmp_path_factory.mktemp("webhooks-db")) as url:
        yield url


@pytest.fixture(scope="module")
def wh_server(
    wh_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    log = tmp_path_factory.mktemp("webhooks-server") / "server.log"
    with start_server(wh_database_url, log, **WEBHOOK_ENV) as live:
        yield live


@pytest.fixture(scope="module")
async def wh_db(wh_database_url: str) -> AsyncIterator[Database]:
    database = Database(wh_database_url)
    yield database
    await database.dispose()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
async def wh_org(wh_db: Database) -> TestOrg:
    return await make_org(wh_db, f"Hooks {uuid.uuid4().hex[:6]}")


def path() -> str:
    return f"/hooks/{uuid.uuid4().hex[:10]}"


async def test_payout_events_reach_subscribed_endpoint_signed_both_ways(
    wh_server: LiveServer, wh_db: Database, wh_org: TestOrg, receiver: Receiver
) -> None:
    other = await make_org(wh_db, f"Other {uuid.uuid4().hex[:6]}")
    mine, all_types, live, foreign = path(), path(), path(), path()
    await insert_verified_payout_account(wh_db, wh_org.id, account_number_last4="4321")
    async with (
        GraphQLClient(wh_server.graphql_url, wh_org.test_key) as client,
        GraphQLClient(wh_server.graphql_url, wh_org.live_key) as live_client,
        GraphQLClient(wh_server.graphql_url, other.test_key) as other_client,
    ):
        endpoint, secret = await create_endpoint(
            client, receiver.url(mine), ["payout.created", "payout.paid"], description="ours"
        )
        receiver.secrets[mine] = [secret]
        _, every_secret = await create_endpoint(client, receiver.url(all_types))
        receiver.secrets[all_types] = [every_secret]
        await create_endpoint(live_client, receiver.url(live))  # our live mode
        await create_endpoint(other_client, receiver.url(foreign))  # another organization
        assert endpoint["events"] == ["payout.created", "payout.paid"]
        assert endpoint["livemode"] is False and endpoint["enabled"] is True
        assert secret.startswith("whsec_")

        await credit(client, 50_000)
        result = await request_payout(client, 12_345, description="to the bank")
        payout = result["payout"]
        await wait_for_status(client, payout["id"], "PAID")

        got = sorted(await receiver.wait_for(mine, 2, exactly=True), key=lambda r: r.event)
        assert [r.event for r in got] == ["payout.created", "payout.paid"]
        for record in got:
            assert record.commet_valid == {secret: True}
            assert record.standard_valid == {secret: True}
            assert record.headers["x-commet-event"] == record.event
            assert record.headers["x-commet-event-id"] == record.event_id
            assert record.headers["webhook-id"] == record.event_id
            assert record.headers["x-commet-timestamp"] == record.json["timestamp"]
            assert record.headers["content-type"] == "application/json"
            assert record.event_id.startswith("whev_")
            envelope = record.json
            assert envelope["organizationId"] == wh_org.id
            assert envelope["mode"] == "sandbox"
            assert envelope["apiVersion"]
            data = envelope["data"]
            assert data["payoutId"] == payout["id"]
            assert data["amount"] == 12_345
            assert data["fee"] == payout["fee"]
            assert data["netAmount"] == payout["netAmount"]
            assert data["currency"] == "usd"
            assert data["destinationBank"] == {
                "last4": "4321",
                "bankName": data["destinationBank"]["bankName"],
            }
        created, paid = (r.json["data"] for r in got)
        assert created["status"] == "pending"
        assert paid["status"] == "paid" and paid["paidAt"]
        assert got[0].event_id != got[1].event_id

        # Subscribed to everything: the available funds, then every step of the payout (in
        # any order: deliveries run concurrently).
        every = {r.event: r for r in await receiver.wait_for(all_types, 4, exactly=True)}
        assert sorted(every) == [
            "payout.available",
            "payout.created",
            "payout.in_transit",
            "payout.paid",
        ]
        assert every["payout.available"].json["data"] == {
            "availableAmount": 50_000,
            "currency": "usd",
        }
        assert every["payout.in_transit"].json["data"]["status"] == "in_transit"
        # One id per event, whatever the endpoint.
        assert every["payout.created"].event_id == got[0].event_id
        await asyncio.sleep(1.0)
        assert receiver.on(live) == [] and receiver.on(foreign) == []

        listed = await deliveries(client, endpoint["id"])
        assert sorted(d["eventType"] for d in listed) == ["payout.created", "payout.paid"]
        assert all(d["status"] == "SUCCEEDED" and d["attemptCount"] == 1 for d in listed)
        assert all(d["attempts"][0]["statusCode"] == 200 for d in listed)
        # The other organization and mode see none of it.
        assert await deliveries(other_client) == []
        assert await deliveries(live_client) == []
        assert (await deliveries(other_client, endpoint["id"])) == []


async def test_failures_are_retried_with_the_same_event_and_every_attempt_is_kept(
    wh_server: LiveServer, wh_org: TestOrg, receiver: Receiver
) -> None:
    flaky = path()
    receiver.scripts[flaky] = Script(statuses=[500, 500])
    async with GraphQLClient(wh_server.graphql_url, wh_org.test_key) as client:
        endpoint, secret = await create_endpoint(client, receiver.url(flaky), ["payout.available"])
        receiver.secrets[flaky] = [secret]
        await credit(client, 2_000)
        got = await receiver.wait_for(flaky, 3, exactly=True)
        assert len({r.event_id for r in got}) == 1
        assert len({r.body for r in got}) == 1  # the same bytes every time
        assert all(r.commet_valid[secret] and r.standard_valid[secret] for r in got)
        # Each retry waited its turn in the schedule (with at most 10 % jitter).
        gaps = [b.at - a.at for a, b in zip(got, got[1:], strict=False)]
        assert gaps[0] >= RETRIES[0] * 0.9 and gaps[1] >= RETRIES[1] * 0.9
        (delivery,) = await wait_for_deliveries(
            client, endpoint["id"], lambda ds: ds and ds[0]["status"] == "SUCCEEDED"
        )
    assert delivery["attemptCount"] == 3
    assert delivery["nextAttemptAt"] is None
    assert [a["statusCode"] for a in delivery["attempts"]] == [500, 500, 200]
    assert all(a["error"] is None and a["durationMs"] >= 0 for a in delivery["attempts"])
    # The first 1 KB of each answer is kept.
    assert [len(a["responseBody"]) for a in delivery["attempts"]] == [1024, 1024, 1024]
    assert delivery["attempts"][0]["responseBody"].startswith("answered 500")
    assert delivery["eventId"] == got[0].event_id
    assert delivery["payload"] == got[0].body
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"{wh_server.url}/metrics")).text
    assert 'payouts_outbound_webhook_attempts_total{outcome="retrying"}' in metrics
    assert 'payouts_outbound_webhook_attempts_total{outcome="succeeded"}' in metrics
    assert "payouts_outbound_webhook_attempt_duration_seconds_count" in metrics
    assert "payouts_outbound_webhook_queue_age_seconds" in metrics


async def test_a_receiver_down_then_up_receives_everything_missed(
    wh_server: LiveServer, wh_org: TestOrg
) -> None:
    down = Receiver()
    hook = path()
    async with GraphQLClient(wh_server.graphql_url, wh_org.test_key) as client:
        endpoint, secret = await create_endpoint(client, down.url(hook), ["payout.available"])
        down.secrets[hook] = [secret]
        await credit(client, 1_500)
        await credit(client, 2_500)
        # Both events fail their first attempts (nothing listens) ...
        await wait_for_deliveries(
            client,
            endpoint["id"],
            lambda ds: len(ds) == 2 and all(d["attemptCount"] >= 1 for d in ds),
        )
        down.start()  # ... then the receiver comes up on the same port
        try:
            got = await down.wait_for(hook, 2, exactly=True)
            finished = await wait_for_deliveries(
                client, endpoint["id"], lambda ds: all(d["status"] == "SUCCEEDED" for d in ds)
            )
        finally:
            down.stop()
    assert sorted(r.json["data"]["availableAmount"] for r in got) == [1_500, 4_000]
    assert all(r.commet_valid[secret] for r in got)
    for delivery in finished:
        first = delivery["attempts"][0]
        assert first["statusCode"] is None and first["error"].startswith("connect_error")
        assert delivery["attempts"][-1]["statusCode"] == 200


async def test_rotation_signs_with_both_secrets_for_the_overlap_only(
    wh_server: LiveServer, wh_org: TestOrg, receiver: Receiver
) -> None:
    hook = path()
    async with GraphQLClient(wh_server.graphql_url, wh_org.test_key) as client:
        endpoint, old = await create_endpoint(client, receiver.url(hook), ["payout.paid"])
        rotated = (await client.data(ROTATE, {"input": {"id": endpoint["id"]}}))[
            "rotateWebhookEndpointSecret"
        ]
        new = rotated["secret"]
        remember_sensitive(new)
        assert rotated["userErrors"] == [] and new.startswith("whsec_") and new != old
        receiver.secrets[hook] = [old, new]
        await client.data(SEND_TEST, {"input": {"endpointId": endpoint["id"]}})
        (during,) = await receiver.wait_for(hook, 1)
        assert during.event == "webhook.test"
        assert during.commet_valid == {old: False, new: True}
        assert during.commet_previous_valid == {old: True, new: False}
        assert during.standard_valid == {old: True, new: True}
        assert len(during.headers["webhook-signature"].split(" ")) == 2

        await asyncio.sleep(4.5)  # the overlap is over
        await client.data(SEND_TEST, {"input": {"endpointId": endpoint["id"]}})
        _, after = await receiver.wait_for(hook, 2)
    assert after.commet_valid == {old: False, new: True}
    assert "x-commet-signature-previous" not in after.headers
    assert after.standard_valid == {old: False, new: True}


async def test_three_exhausted_events_disable_the_endpoint_and_reenabling_resumes(
    wh_server: LiveServer, wh_org: TestOrg, receiver: Receiver
) -> None:
    hook = path()
    receiver.scripts[hook] = Script(statuses=[503] * 12)
    async with GraphQLClient(wh_server.graphql_url, wh_org.test_key) as client:
        endpoint, secret = await create_endpoint(client, receiver.url(hook))
        receiver.secrets[hook] = [secret]
        for _ in range(3):
            body = await client.data(SEND_TEST, {"input": {"endpointId": endpoint["id"]}})
            assert body["sendTestWebhook"]["delivery"]["status"] == "PENDING"
        disabled = await wait_for_endpoint(client, endpoint["id"], lambda e: not e["enabled"])
        assert "3 events in a row" in disabled["disabledReason"]
        failed = await deliveries(client, endpoint["id"], status="FAILED")
        assert len(failed) == 3 and all(d["attemptCount"] == 4 for d in failed)
        assert len(receiver.on(hook)) == 12

        await credit(client, 1_000)  # while disabled: never sent, not even later
        await asyncio.sleep(1.0)
        updated = (await client.data(UPDATE, {"input": {"id": endpoint["id"], "enabled": True}}))[
            "updateWebhookEndpoint"
        ]
        assert updated["userErrors"] == []
        assert updated["webhookEndpoint"]["enabled"] is True
        assert updated["webhookEndpoint"]["disabledReason"] is None
        await credit(client, 3_000)
        got = await receiver.wait_for(hook, 13, exactly=True)
    assert got[-1].event == "payout.available"
    assert got[-1].json["data"]["availableAmount"] == 4_000


async def test_redelivery_sends_the_same_event_again(
    wh_server: LiveServer, wh_org: TestOrg, receiver: Receiver
) -> None:
    hook = path()
    async with GraphQLClient(wh_server.graphql_url, wh_org.test_key) as client:
        endpoint, secret = await create_endpoint(client, receiver.url(hook))
        receiver.secrets[hook] = [secret]
        sent = (await client.data(SEND_TEST, {"input": {"endpointId": endpoint["id"]}}))[
            "sendTestWebhook"
        ]["delivery"]
        (first,) = await receiver.wait_for(hook, 1)
        again = (await client.data(REDELIVER, {"input": {"deliveryId": sent["id"]}}))[
            "redeliverWebhook"
        ]
        assert again["userErrors"] == [] and again["delivery"]["id"] != sent["id"]
        _, second = await receiver.wait_for(hook, 2)
    assert second.event_id == first.event_id == sent["eventId"]
    assert second.body == first.body
    assert second.commet_valid[secret]


async def test_secret_is_shown_once_and_stored_sealed(
    wh_server: LiveServer, wh_db: Database, wh_org: TestOrg, receiver: Receiver
) -> None:
    variables = {"input": {"url": receiver.url(path()), "idempotencyKey": uuid.uuid4().hex}}
    async with GraphQLClient(wh_server.graphql_url, wh_org.test_key) as client:
        first = (await client.data(CREATE, variables))["createWebhookEndpoint"]
        replay = (await client.data(CREATE, variables))["createWebhookEndpoint"]
        listed = await client.execute(ENDPOINTS)
    secret = first["secret"]
    remember_sensitive(secret)
    assert secret.startswith("whsec_") and len(secret) > 40
    assert replay["webhookEndpoint"]["id"] == first["webhookEndpoint"]["id"]
    assert replay["secret"] is None  # shown once, even to an idempotent replay
    assert secret not in str(listed)
    async with wh_db.read() as session:
        stored = (
            await session.execute(
                sa.select(WebhookEndpoint).where(
                    col(WebhookEndpoint.id) == first["webhookEndpoint"]["id"]
                )
            )
        ).scalar_one()
        rows = (await session.execute(sa.text("SELECT * FROM idempotency_keys"))).all()
    assert secret not in stored.secret_ciphertext and stored.secret_ciphertext.startswith("v1:")
    assert all(secret not in str(row) for row in rows)


BAD_URLS = [
    "http://hooks.example.com/plain-http",
    "https://127.0.0.1/loopback",
    "https://localhost:8443/loopback",
    "https://[::1]/loopback",
    "https://10.1.2.3/private",
    "https://192.168.1.20/private",
    "https://169.254.169.254/latest/meta-data",
    "https://[fe80::1]/link-local",
    "https://user:pass@hooks.example.com/credentials",
    "ftp://hooks.example.com/",
    "not a url",
]


@pytest.mark.parametrize("url", BAD_URLS)
async def test_private_and_plain_http_urls_are_refused_by_default(
    server: LiveServer, org: TestOrg, url: str
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        payload = (await client.data(CREATE, {"input": {"url": url}}))["createWebhookEndpoint"]
        listed = await client.data(ENDPOINTS)
    assert payload["webhookEndpoint"] is None and payload["secret"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("URL_REJECTED", ["input", "url"])
    ]
    assert listed["webhookEndpoints"]["edges"] == []


async def test_updating_to_a_private_url_is_refused_and_changes_nothing(
    server: LiveServer, org: TestOrg
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        endpoint, _ = await create_endpoint(client, "https://203.0.114.9/hooks")
        payload = (
            await client.data(
                UPDATE, {"input": {"id": endpoint["id"], "url": "https://10.0.0.1/x"}}
            )
        )["updateWebhookEndpoint"]
        listed = await client.data(ENDPOINTS)
    assert [e["code"] for e in payload["userErrors"]] == ["URL_REJECTED"]
    assert [e["node"]["url"] for e in listed["webhookEndpoints"]["edges"]] == [
        "https://203.0.114.9/hooks"
    ]


async def test_bad_input_is_a_validation_error_and_changes_nothing(
    wh_server: LiveServer, wh_org: TestOrg, receiver: Receiver
) -> None:
    cases: list[dict[str, Any]] = [
        {"url": receiver.url(path()), "events": ["payout.exploded"]},
        {"url": receiver.url(path()), "description": "x" * 501},
    ]
    async with GraphQLClient(wh_server.graphql_url, wh_org.test_key) as client:
        before = await client.data(ENDPOINTS)
        for case in cases:
            payload = (await client.data(CREATE, {"input": case}))["createWebhookEndpoint"]
            assert [e["code"] for e in payload["userErrors"]] == ["VALIDATION_ERROR"], payload
            assert payload["webhookEndpoint"] is None
        unknown = (await client.data(UPDATE, {"input": {"id": "we_nope", "enabled": True}}))[
            "updateWebhookEndpoint"
        ]
        assert [e["code"] for e in unknown["userErrors"]] == ["NOT_FOUND"]
        assert await client.data(ENDPOINTS) == before


async def test_a_server_killed_mid_delivery_delivers_after_restart(
    tmp_path: Path, private_database_url: str
) -> None:
    from tests.support.live_server import free_port, stop

    database = Database(private_database_url)
    org = await make_org(database, "Killed mid-delivery")
    port = free_port()
    hook = path()
    with running_receiver() as slow:
        slow.scripts[hook] = Script(delay=2.0)
        with start_server(
            private_database_url, tmp_path / "first.log", port=port, **WEBHOOK_ENV
        ) as first:
            async with GraphQLClient(first.graphql_url, org.test_key) as client:
                endpoint, secret = await create_endpoint(client, slow.url(hook))
                slow.secrets[hook] = [secret]
                await client.data(SEND_TEST, {"input": {"endpointId": endpoint["id"]}})
            await slow.wait_for(hook, 1)  # the attempt is in flight ...
            stop(first.process, kill=True)  # ... when the server dies
        slow.scripts[hook] = Script()
        with start_server(
            private_database_url, tmp_path / "second.log", port=port, **WEBHOOK_ENV
        ) as second:
            got = await slow.wait_for(hook, 2, timeout=20)
            async with GraphQLClient(second.graphql_url, org.test_key) as client:
                (delivery,) = await wait_for_deliveries(
                    client, endpoint["id"], lambda ds: ds and ds[0]["status"] == "SUCCEEDED"
                )
    await database.dispose()
    assert got[0].event_id == got[1].event_id
    assert got[1].commet_valid[secret]
    # The killed attempt never finished, so only the completed one is on record.
    assert delivery["attemptCount"] == 1


async def test_listen_forwards_the_organizations_events_to_a_local_url(
    wh_server: LiveServer, wh_database_url: str, wh_org: TestOrg, receiver: Receiver
) -> None:
    import subprocess
    import sys

    from tests.support.live_server import ROOT, server_env

    hook = path()
    secret = "whsec_" + "bGlzdGVuLWRldmVsb3BtZW50LXNlY3JldC0xMjM0NTY="
    receiver.secrets[hook] = [secret]
    env = server_env(wh_database_url, 0)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "api.cli",
            "listen",
            f"127.0.0.1:{receiver.port}{hook}",
            "--api-key",
            wh_org.test_key,
            "--secret",
            secret,
            "--events",
            "payout.available",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(5)]
        assert "Authenticated" in banner[0] and wh_org.name in banner[0]
        assert "Ready!" in "".join(banner)
        async with GraphQLClient(wh_server.graphql_url, wh_org.test_key) as client:
            await credit(client, 7_000)
        (got,) = await receiver.wait_for(hook, 1, exactly=True)
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 10)
        while not line.strip():
            line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 10)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert got.event == "payout.available" and got.json["organizationId"] == wh_org.id
    assert got.commet_valid[secret] and got.standard_valid[secret]
    assert "payout.available" in line and "200 OK" in line and "ms)" in line
