"""Payouts end to end on the running server: every status change is caused by a signed
webhook the sandbox provider POSTs to our endpoint over HTTP."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlmodel import col

from models import BankAccount, Event, ProviderEvent
from services.infra.database import Database
from tests.support.graphql import GraphQLClient
from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg
from tests.support.payout_setup import verify_through_api
from tests.support.payouts import (
    ADVANCE,
    balance,
    credit,
    ledger_entries,
    request_payout,
    wait_for_payout,
    wait_for_status,
)

pytestmark = pytest.mark.e2e


async def webhook_events_for(db: Database, transfer_id: str) -> list[str]:
    async with db.read() as session:
        rows = await session.execute(
            sa.select(col(ProviderEvent.data))
            .where(
                col(ProviderEvent.object_id) == transfer_id,
                col(ProviderEvent.applied_at).is_not(None),
            )
            .order_by(col(ProviderEvent.received_at))
        )
        return [str(r[0]) for r in rows.all()]


async def event_types(db: Database, org_id: str) -> list[str]:
    async with db.read() as session:
        rows = await session.execute(
            sa.select(col(Event.type))
            .where(col(Event.organization_id) == org_id)
            .order_by(col(Event.seq))
        )
        return [str(r[0]) for r in rows.all()]


async def test_credit_then_payout_reaches_paid_by_webhooks(
    server: LiveServer, db: Database, org: TestOrg
) -> None:
    account = await verify_through_api(server, org)
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        await credit(client, 50_000, available_in_seconds=1)
        assert await balance(client) == {
            "available": 0,
            "pending": 50_000,
            "inTransit": 0,
            "paidOut": 0,
            "currency": "usd",
            "livemode": False,
        }
        for _ in range(100):  # the release job makes it available after its second
            if (await balance(client))["available"] == 50_000:
                break
            await asyncio.sleep(0.1)
        assert (await balance(client))["pending"] == 0

        result = await request_payout(client, 12_345, description="June")
        assert result["userErrors"] == []
        created = result["payout"]
        assert created["status"] == "PENDING"
        assert created["providerTransferId"] is not None  # asked for after the commit
        assert created["destinationBank"]["id"] == account.bank_account_id
        assert created["destinationBank"]["last4"] == "6789"
        assert (created["amount"], created["fee"], created["netAmount"]) == (12_345, 0, 12_345)
        after_request = await balance(client)
        assert (after_request["available"], after_request["inTransit"]) == (37_655, 12_345)

        in_transit = await wait_for_payout(
            client, created["id"], lambda p: p["status"] in ("IN_TRANSIT", "PAID")
        )
        transfer_id = in_transit["providerTransferId"]
        assert transfer_id is not None
        paid = await wait_for_status(client, created["id"], "PAID")
        final = await balance(client)

    assert paid["paidAt"] is not None
    assert [(h["fromStatus"], h["status"]) for h in paid["statusHistory"]] == [
        (None, "PENDING"),
        ("PENDING", "IN_TRANSIT"),
        ("IN_TRANSIT", "PAID"),
    ]
    assert all(h["source"].startswith("webhook:") for h in paid["statusHistory"][1:])
    assert (final["available"], final["inTransit"], final["paidOut"]) == (37_655, 0, 12_345)
    events = await webhook_events_for(db, transfer_id)
    assert ['"in_transit"' in e for e in events][:1] == [True]
    assert any('"paid"' in e for e in events)
    types = [t for _, t, _ in await ledger_entries(db, org.id)]
    assert types == ["CREDIT", "CREDIT_RELEASE", "PAYOUT", "PAYOUT_PAID"]
    logged = await event_types(db, org.id)
    assert [t for t in logged if t.startswith("payout.")] == [
        "payout.available",  # the credit's release (outbound webhooks, issue 14)
        "payout.created",
        "payout.in_transit",
        "payout.paid",
    ]
    assert logged.count("balance.updated") == 4


async def test_account_ending_0002_fails_with_funds_back_and_bank_errored(
    server: LiveServer, db: Database, org: TestOrg
) -> None:
    account = await verify_through_api(server, org, account_number="000123450002")
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        await credit(client, 20_000)
        created = (await request_payout(client, 5_000))["payout"]
        failed = await wait_for_status(client, created["id"], "FAILED")
        final = await balance(client)
    assert failed["failureCode"] == "account_closed"
    assert failed["failedAt"] is not None and failed["failureMessage"]
    assert [h["status"] for h in failed["statusHistory"]] == ["PENDING", "IN_TRANSIT", "FAILED"]
    assert (final["available"], final["inTransit"], final["paidOut"]) == (20_000, 0, 0)
    async with db.read() as session:
        bank = await session.get(BankAccount, account.bank_account_id)
    assert bank is not None and bank.status == "ERRORED"


async def test_paid_then_failed_returns_funds_and_lowers_paid_out(
    server: LiveServer, db: Database, org: TestOrg
) -> None:
    await verify_through_api(server, org)
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        await credit(client, 10_000)
        created = (await request_payout(client, 4_000))["payout"]
        await wait_for_status(client, created["id"], "PAID")
        assert (await balance(client))["paidOut"] == 4_000
        advanced = await client.data(
            ADVANCE,
            {
                "input": {
                    "payoutId": created["id"],
                    "status": "FAILED",
                    "failureCode": "bank_return",
                }
            },
        )
        assert advanced["testAdvancePayout"]["userErrors"] == []
        failed = await wait_for_status(client, created["id"], "FAILED")
        final = await balance(client)
    assert failed["failureCode"] == "bank_return"
    assert [h["status"] for h in failed["statusHistory"]] == [
        "PENDING",
        "IN_TRANSIT",
        "PAID",
        "FAILED",
    ]
    assert (final["available"], final["inTransit"], final["paidOut"]) == (10_000, 0, 0)
    types = [t for _, t, _ in await ledger_entries(db, org.id)]
    assert types[-1] == "PAYOUT_REVERSED"
