"""The official SDKs' ``webhooks`` resource against /api/v1 (endpoint management), and a
payout requested over REST delivered by outbound webhooks to a receiver that verifies it with
the official SDK. A server of its own: loopback targets allowed, a compressed retry schedule."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from commet import CommetAPIError, CommetValidationError
from commet.types import CreatedWebhook, DeletedObject, Webhook, WebhooksListResult, WebhookTest
from sqlmodel import col

from models import IdempotencyRecord
from services.infra.database import Database
from tests.conftest import make_org, migrated_database
from tests.support.graphql import GraphQLClient
from tests.support.live_server import LiveServer, start_server
from tests.support.orgs import TestOrg
from tests.support.payout_setup import insert_verified_payout_account
from tests.support.payouts import credit
from tests.support.rest import call, node_sdk, python_sdk
from tests.support.sensitive import remember_sensitive
from tests.support.webhook_receiver import Receiver, Script, running_receiver

pytestmark = pytest.mark.e2e

WEBHOOK_ENV: dict[str, Any] = {
    "PAYOUTS_WEBHOOK_ALLOW_PRIVATE_URLS": "true",
    "PAYOUTS_WEBHOOK_RETRY_SCHEDULE": "0.5,1.0",
    "PAYOUTS_WEBHOOK_TIMEOUT_SECONDS": "3",
    "PAYOUTS_WEBHOOK_POLL_INTERVAL_SECONDS": "0.1",
}


@pytest.fixture(scope="module")
def wh_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with migrated_database(tmp_path_factory.mktemp("rest-webhooks-db")) as url:
        yield url


@pytest.fixture(scope="module")
def wh_server(
    wh_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    log = tmp_path_factory.mktemp("rest-webhooks") / "server.log"
    with start_server(wh_database_url, Path(log), **WEBHOOK_ENV) as live:
        yield live


@pytest.fixture(scope="module")
async def wh_db(wh_database_url: str) -> AsyncIterator[Database]:
    database = Database(wh_database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def wh_org(wh_db: Database) -> TestOrg:
    return await make_org(wh_db, f"Hooks {uuid.uuid4().hex[:6]}")


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


async def test_every_method_with_the_python_sdk(
    wh_server: LiveServer, wh_org: TestOrg, receiver: Receiver
) -> None:
    path = f"/hooks/{uuid.uuid4().hex[:8]}"
    failing = f"/failing/{uuid.uuid4().hex[:8]}"
    receiver.scripts[failing] = Script(statuses=[500] * 10)
    async with python_sdk(wh_server, wh_org.test_key) as sdk:
        created = await sdk.webhooks.create(
            url=receiver.url(path), events=["payout.created", "payout.paid"], description="Ops"
        )
        remember_sensitive(created.secret_key)
        receiver.secrets[path] = [created.secret_key]
        tested = await sdk.webhooks.test(created.id)
        fetched = await sdk.webhooks.get(created.id)
        paused = await sdk.webhooks.update(created.id, is_active=False, description="")
        resumed = await sdk.webhooks.update(created.id, is_active=True, events=[])
        listed = await sdk.webhooks.list(limit=10)
        bad = await sdk.webhooks.create(url=receiver.url(failing), events=[])
        remember_sensitive(bad.secret_key)
        failed_test = await sdk.webhooks.test(bad.id)
        with pytest.raises(CommetValidationError) as unknown_event:
            await sdk.webhooks.create(url=receiver.url(path), events=["invoice.created"])
        with pytest.raises(CommetAPIError) as rejected_url:
            await sdk.webhooks.create(url="ftp://example.com/hook", events=[])
        deleted = await sdk.webhooks.delete(bad.id)
        with pytest.raises(CommetAPIError) as gone:
            await sdk.webhooks.get(bad.id)
    assert isinstance(created, CreatedWebhook) and created.secret_key.startswith("whsec_")
    assert (created.object, created.is_active, created.events) == (
        "webhook",
        True,
        ["payout.created", "payout.paid"],
    )
    assert isinstance(tested, WebhookTest)
    assert tested.success is True and tested.delivered_at and tested.object == "webhook_delivery"
    (test_event,) = receiver.on(path)
    assert test_event.event == "webhook.test" and test_event.commet_valid[created.secret_key]
    assert isinstance(fetched, Webhook) and fetched.description == "Ops"
    assert (paused.is_active, paused.description) == (False, None)
    assert (resumed.is_active, resumed.events) == (True, [])
    assert isinstance(listed, WebhooksListResult)
    assert created.id in [w.id for w in listed.data]
    assert failed_test.success is False
    assert set(unknown_event.value.validation_errors) == {"events"}
    assert (rejected_url.value.status_code, rejected_url.value.code) == (422, "url_rejected")
    assert isinstance(deleted, DeletedObject) and deleted.id == bad.id
    assert (gone.value.status_code, gone.value.code) == (404, "webhook_not_found")


async def test_rest_payout_is_delivered_by_outbound_webhooks(
    wh_server: LiveServer, wh_org: TestOrg, wh_db: Database, receiver: Receiver
) -> None:
    await insert_verified_payout_account(wh_db, wh_org.id)
    async with GraphQLClient(wh_server.graphql_url, wh_org.test_key) as gql:
        await credit(gql, 30_000)
    path = f"/payouts/{uuid.uuid4().hex[:8]}"
    async with python_sdk(wh_server, wh_org.test_key) as sdk:
        endpoint = await sdk.webhooks.create(url=receiver.url(path), events=["payout.created"])
        remember_sensitive(endpoint.secret_key)
        receiver.secrets[path] = [endpoint.secret_key]
        payout = await sdk.payouts.request(amount=12_000)
    (delivery,) = await receiver.wait_for(path, 1)
    assert (
        delivery.commet_valid[endpoint.secret_key] and delivery.standard_valid[endpoint.secret_key]
    )
    assert delivery.event == "payout.created"
    data = delivery.json["data"]
    assert (data["payoutId"], data["amount"], data["status"]) == (payout.id, 12_000, "pending")


async def test_every_method_with_the_node_sdk(
    wh_server: LiveServer, wh_org: TestOrg, receiver: Receiver
) -> None:
    path = f"/node/{uuid.uuid4().hex[:8]}"
    lines = await node_sdk(
        wh_server,
        wh_org.test_key,
        [
            call("webhooks", "create", {"url": receiver.url(path), "events": ["payout.paid"]}),
            call("webhooks", "get", {"id": "$0.data.id"}),
            call("webhooks", "update", {"id": "$0.data.id", "description": "via PUT"}),
            call("webhooks", "list", {"limit": 5}),
            call("webhooks", "test", {"id": "$0.data.id"}),
            call("webhooks", "delete", {"id": "$0.data.id"}),
            call("webhooks", "get", {"id": "$0.data.id"}),
        ],
    )
    assert all(line["ok"] for line in lines[:6]), lines
    created = lines[0]["result"]["data"]
    remember_sensitive(created["secretKey"])
    assert created["secretKey"].startswith("whsec_") and created["object"] == "webhook"
    assert lines[2]["result"]["data"]["description"] == "via PUT"
    assert isinstance(lines[3]["result"]["data"], list)
    assert lines[4]["result"]["data"]["deliveryId"]
    assert lines[5]["result"]["data"]["deleted"] is True
    assert lines[6]["error"]["statusCode"] == 404


async def test_a_replayed_create_never_shows_the_secret_again(
    wh_server: LiveServer, wh_org: TestOrg, wh_db: Database, receiver: Receiver
) -> None:
    key = f"hook-{uuid.uuid4()}"
    async with python_sdk(wh_server, wh_org.test_key) as sdk:
        first = await sdk.webhooks.create(
            url=receiver.url("/replayed"), events=[], idempotency_key=key
        )
        again = await sdk.webhooks.create(
            url=receiver.url("/replayed"), events=[], idempotency_key=key
        )
    remember_sensitive(first.secret_key)
    assert first.secret_key.startswith("whsec_")
    assert again.id == first.id and again.secret_key is None
    async with wh_db.read() as session:
        stored = (
            await session.execute(
                sa.select(col(IdempotencyRecord.response)).where(col(IdempotencyRecord.key) == key)
            )
        ).scalar_one()
    assert first.secret_key not in (stored or "")
