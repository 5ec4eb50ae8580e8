"""Duplicated and reordered transfer webhooks, and cancelation, on a server whose sandbox
waits a minute before settling (so only the webhooks this test sends move the payout)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from models import ProviderEvent, SandboxTransfer
from models.base import utcnow
from services.infra.database import Database
from services.organizations import api_keys
from tests.conftest import migrated_database
from tests.support.graphql import GraphQLClient
from tests.support.live_server import LiveServer, start_server
from tests.support.payout_setup import insert_verified_payout_account
from tests.support.payouts import (
    ADVANCE,
    CANCEL,
    balance,
    credit,
    ledger_entries,
    payout,
    request_payout,
    wait_for_status,
)
from tests.support.webhooks import sandbox_event, signed

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def slow_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with migrated_database(tmp_path_factory.mktemp("slow")) as url:
        yield url


@pytest.fixture(scope="module")
def slow_server(slow_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    log = tmp_path_factory.mktemp("slow-server") / "server.log"
    with start_server(slow_url, log, PAYOUTS_SANDBOX_DELAY_SECONDS="60") as live:
        yield live


@pytest.fixture
async def slow_db(slow_url: str) -> AsyncIterator[Database]:
    db = Database(slow_url)
    yield db
    await db.dispose()


@pytest.fixture
async def funded(slow_server: LiveServer, slow_db: Database) -> AsyncIterator[GraphQLClient]:
    async with slow_db.transaction() as session:
        created = await api_keys.create_organization(session, name="Webhook Co")
    await insert_verified_payout_account(slow_db, created.organization.id)
    async with GraphQLClient(slow_server.graphql_url, created.test_key) as client:
        client.org_id = created.organization.id  # type: ignore[attr-defined]
        await credit(client, 10_000)
        yield client


async def post_event(
    live: LiveServer, payload: dict[str, Any], times: int = 1
) -> list[dict[str, Any]]:
    body, headers = signed(payload)
    answers = []
    async with httpx.AsyncClient() as http:
        for _ in range(times):
            response = await http.post(
                f"{live.url}/webhooks/sandbox", content=body, headers=headers
            )
            assert response.status_code == 200, response.text
            answers.append(response.json())
    return answers


async def new_payout(client: GraphQLClient, amount: int = 4_000) -> dict[str, Any]:
    created = (await request_payout(client, amount))["payout"]
    current = await payout(client, created["id"])
    assert current["providerTransferId"] is not None
    return current


def transfer_event(transfer_id: str, status: str, **extra: Any) -> dict[str, Any]:
    return sandbox_event("transfer.updated", {"id": transfer_id, "status": status, **extra})


async def test_duplicated_paid_webhook_is_counted_once(
    slow_server: LiveServer, slow_db: Database, funded: GraphQLClient
) -> None:
    current = await new_payout(funded)
    paid = transfer_event(current["providerTransferId"], "paid")
    answers = await post_event(slow_server, paid, times=3)
    assert [a["duplicate"] for a in answers] == [False, True, True]
    await post_event(slow_server, transfer_event(current["providerTransferId"], "paid"))
    final = await payout(funded, current["id"])
    assert final["status"] == "PAID"
    assert [h["status"] for h in final["statusHistory"]] == ["PENDING", "IN_TRANSIT", "PAID"]
    assert (await balance(funded))["paidOut"] == 4_000
    entries = await ledger_entries(slow_db, funded.org_id)  # type: ignore[attr-defined]
    assert [t for _, t, _ in entries].count("PAYOUT_PAID") == 1


async def test_reordered_webhooks_never_move_backwards(
    slow_server: LiveServer, slow_db: Database, funded: GraphQLClient
) -> None:
    current = await new_payout(funded)
    transfer_id = current["providerTransferId"]
    earlier = utcnow() - timedelta(seconds=5)
    paid = transfer_event(transfer_id, "paid")
    in_transit = sandbox_event(
        "transfer.updated", {"id": transfer_id, "status": "in_transit"}, created=earlier
    )
    await post_event(slow_server, paid)
    after_paid = await payout(funded, current["id"])
    await post_event(slow_server, in_transit)
    final = await payout(funded, current["id"])
    assert after_paid["status"] == final["status"] == "PAID"
    assert final["statusHistory"] == after_paid["statusHistory"]
    assert (await balance(funded))["inTransit"] == 0


async def test_failed_after_paid_then_late_in_transit_keeps_failed(
    slow_server: LiveServer, funded: GraphQLClient
) -> None:
    current = await new_payout(funded)
    transfer_id = current["providerTransferId"]
    await post_event(slow_server, transfer_event(transfer_id, "failed", failure_code="no_account"))
    await post_event(slow_server, transfer_event(transfer_id, "paid"))
    await post_event(slow_server, transfer_event(transfer_id, "in_transit"))
    final = await payout(funded, current["id"])
    assert final["status"] == "FAILED" and final["failureCode"] == "no_account"
    assert (await balance(funded))["available"] == 10_000


async def test_event_for_unknown_transfer_is_kept_pending(
    slow_server: LiveServer, slow_db: Database
) -> None:
    event = transfer_event("sbtr_not_created_yet", "paid")
    (answer,) = await post_event(slow_server, event)
    assert answer == {"received": True, "duplicate": False, "applied": False}
    async with slow_db.read() as session:
        row = (
            await session.execute(
                sa.select(ProviderEvent).where(col(ProviderEvent.event_id) == event["id"])
            )
        ).scalar_one()
    assert row.applied_at is None


async def test_cancel_pending_payout_returns_funds(
    slow_server: LiveServer, slow_db: Database, funded: GraphQLClient
) -> None:
    current = await new_payout(funded, 3_000)
    data = await funded.data(CANCEL, {"input": {"payoutId": current["id"]}})
    result = data["cancelPayout"]
    assert result["userErrors"] == []
    assert result["payout"]["status"] == "CANCELED"
    assert result["payout"]["canceledAt"] is not None
    assert [h["status"] for h in result["payout"]["statusHistory"]] == ["PENDING", "CANCELED"]
    assert (await balance(funded))["available"] == 10_000
    async with slow_db.read() as session:
        transfer = await session.get(SandboxTransfer, current["providerTransferId"])
    assert transfer is not None and transfer.status == "canceled"
    again = await funded.data(CANCEL, {"input": {"payoutId": current["id"]}})
    assert [e["code"] for e in again["cancelPayout"]["userErrors"]] == ["INVALID_TRANSITION"]


async def test_cancel_after_transfer_left_is_invalid_and_changes_nothing(
    funded: GraphQLClient,
) -> None:
    current = await new_payout(funded, 2_000)
    advanced = await funded.data(
        ADVANCE, {"input": {"payoutId": current["id"], "status": "IN_TRANSIT"}}
    )
    assert advanced["testAdvancePayout"]["userErrors"] == []
    await wait_for_status(funded, current["id"], "IN_TRANSIT")
    before = await balance(funded)
    data = await funded.data(CANCEL, {"input": {"payoutId": current["id"]}})
    assert [e["code"] for e in data["cancelPayout"]["userErrors"]] == ["INVALID_TRANSITION"]
    assert (await payout(funded, current["id"]))["status"] == "IN_TRANSIT"
    assert await balance(funded) == before


async def test_cancel_unknown_payout_is_not_found(funded: GraphQLClient) -> None:
    data = await funded.data(CANCEL, {"input": {"payoutId": "po_doesnotexist"}})
    assert data["cancelPayout"]["userErrors"][0]["code"] == "NOT_FOUND"
