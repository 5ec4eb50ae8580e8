"""Live mode on Stripe Connect, end to end (issue 13's acceptance list): a real uvicorn server
with a live key, its Stripe adapter pointed at the Stripe double, Stripe's signed events
delivered by the double to ``POST /webhooks/stripe``. One server and one private database for
the module; each test its own organization."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import suppress
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from models import Payout, ProviderEvent
from tests.conftest import migrated_database
from tests.support.accounts import COMPLETE_VERIFICATION, company_input, individual_input
from tests.support.graphql import GraphQLClient
from tests.support.live_client import PAYOUT_UPDATED, Subscriber, head_cursor, ws_session
from tests.support.orgs import TestOrg
from tests.support.payouts import (
    BALANCE,
    CANCEL,
    REQUEST,
    ledger_entries,
    request_payout,
    verify_ledger,
    wait_for_payout,
    wait_for_status,
)
from tests.support.stripe_double import sign
from tests.support.stripe_e2e import (
    DOCUMENT_URL,
    PDF,
    StripeStack,
    new_org,
    stripe_account_of,
    stripe_money_for,
    stripe_stack,
    wait_for_account,
    wait_until,
)

pytestmark = pytest.mark.e2e

ADD_BANK = """
mutation($input: AddBankAccountInput!) {
  addBankAccount(input: $input) {
    bankAccount { id last4 bankName isDefault status providerExternalAccountId }
    userErrors { code message field }
  }
}"""


@pytest.fixture(scope="module")
def stripe_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with migrated_database(tmp_path_factory.mktemp("stripe-db")) as url:
        yield url


@pytest.fixture(scope="module")
async def stack(
    stripe_database: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[StripeStack]:
    directory = tmp_path_factory.mktemp("stripe-e2e")
    async with stripe_stack(
        stripe_database, directory, api_key="sk_live_double_e2e_0123456789"
    ) as running:
        yield running


async def open_account(client: GraphQLClient, data: dict[str, Any] | None = None) -> dict[str, Any]:
    input = data or individual_input(document_url=DOCUMENT_URL)
    result = (await client.data(COMPLETE_VERIFICATION, {"input": input}))["completeVerification"]
    assert result["userErrors"] == [], result
    return dict(result)


async def verified(stack: StripeStack, org: TestOrg) -> tuple[GraphQLClient, dict[str, Any]]:
    """A live client whose organization's Stripe account was verified by Stripe."""
    client = GraphQLClient(stack.server.graphql_url, org.live_key)
    opened = await open_account(client)
    bank = opened["payoutAccount"]["defaultBankAccount"]
    account = stripe_account_of(stack.double, bank["providerExternalAccountId"])
    stack.double.review_account(account["id"], "verified")
    await wait_for_account(client, "VERIFIED")
    return client, account


async def test_verification_reaches_verified_restricted_or_disabled_from_account_updated(
    stack: StripeStack,
) -> None:
    org = await new_org(stack.db)
    async with GraphQLClient(stack.server.graphql_url, org.live_key) as client:
        opened = await open_account(client)
        account = opened["payoutAccount"]
        assert opened["outcome"] == "CREATED"
        assert account["status"] == "PENDING_VERIFICATION"
        assert account["livemode"] is True
        bank = account["defaultBankAccount"]
        assert bank["bankName"] == "STRIPE TEST BANK"
        assert bank["providerExternalAccountId"].startswith("ba_")
        stripe_account = stripe_account_of(stack.double, bank["providerExternalAccountId"])
        front = stripe_account["individual"]["verification"]["document"]["front"]
        assert stack.double.file_bytes(front) == PDF  # the bytes reached Stripe unchanged
        assert stripe_account["tos_acceptance"]["ip"] == "127.0.0.1"
        assert stripe_account["tos_acceptance"]["date"] <= int(time.time())
        stack.double.review_account(stripe_account["id"], "verified")
        await wait_for_account(client, "VERIFIED")
        stack.double.review_account(stripe_account["id"], "requirements_due")
        await wait_for_account(client, "RESTRICTED")
        stack.double.review_account(stripe_account["id"], "rejected.fraud")
        await wait_for_account(client, "DISABLED")


async def test_a_company_account_sends_its_representative(stack: StripeStack) -> None:
    org = await new_org(stack.db)
    async with GraphQLClient(stack.server.graphql_url, org.live_key) as client:
        opened = await open_account(client, company_input(documentUrl=DOCUMENT_URL))
        bank = opened["payoutAccount"]["defaultBankAccount"]
        stripe_account = stripe_account_of(stack.double, bank["providerExternalAccountId"])
        people = [p for p in stack.double.objects("person") if p["account"] == stripe_account["id"]]
        assert [p["relationship"]["representative"] for p in people] == [True]
        assert stack.double.file_bytes(people[0]["verification"]["document"]["front"]) == PDF


async def test_add_bank_account_creates_an_external_account_and_moves_the_default(
    stack: StripeStack,
) -> None:
    org = await new_org(stack.db)
    client, stripe_account = await verified(stack, org)
    async with client:
        data = await client.data(
            ADD_BANK,
            {
                "input": {
                    "accountNumber": "000111111116",
                    "accountHolderName": "Ada Lovelace",
                    "routingNumber": "110000000",
                    "setDefault": True,
                }
            },
        )
        added = data["addBankAccount"]
        assert added["userErrors"] == []
        bank = added["bankAccount"]
        assert bank["bankName"] == "STRIPE TEST BANK"
        assert bank["isDefault"] is True
        at_stripe = {
            b["id"]: b
            for b in stack.double.objects("bank_account")
            if b["account"] == stripe_account["id"]
        }
        assert at_stripe[bank["providerExternalAccountId"]]["default_for_currency"] is True
        assert sum(b["default_for_currency"] for b in at_stripe.values()) == 1
        refused = await client.data(
            ADD_BANK,
            {
                "input": {
                    "accountNumber": "000222222227",
                    "accountHolderName": "Ada Lovelace",
                    "routingNumber": "123456789",
                    "setDefault": False,
                }
            },
        )
        # Nine digits pass our checks; Stripe refuses the check digit: the merchant sees which
        # field, and nothing was stored.
        errors = refused["addBankAccount"]["userErrors"]
        assert [(e["code"], e["field"][-1]) for e in errors] == [
            ("VALIDATION_ERROR", "routingNumber")
        ]


async def test_a_payout_is_paid_through_stripe_and_a_bank_return_gives_the_money_back(
    stack: StripeStack,
) -> None:
    org = await new_org(stack.db, funds=50_000)
    client, _ = await verified(stack, org)
    async with client, ws_session(stack.server.ws_url, org.live_key) as session:
        subscriber = Subscriber(
            session, PAYOUT_UPDATED, {"after": await head_cursor(stack.db, org.id)}
        )
        try:
            result = await request_payout(client, 20_000)
            assert result["userErrors"] == []
            payout_id = result["payout"]["id"]
            accepted = await wait_for_payout(
                client, payout_id, lambda p: p["providerTransferId"] is not None
            )
            transfers, payouts = stripe_money_for(stack.double, payout_id)
            assert [t["id"] for t in transfers] == [accepted["providerTransferId"]]
            assert len(payouts) == 1
            assert transfers[0]["amount"] == 20_000
            stack.double.settle_payout(payouts[0]["id"], "paid")
            await wait_for_status(client, payout_id, "PAID")
            balance = (await client.data(BALANCE))["balance"]
            assert (balance["available"], balance["inTransit"], balance["paidOut"]) == (
                30_000,
                0,
                20_000,
            )
            stack.double.settle_payout(payouts[0]["id"], "failed", "account_closed")
            failed = await wait_for_status(client, payout_id, "FAILED")
            assert failed["failureCode"] == "account_closed"
            assert failed["destinationBank"]["status"] == "ERRORED"
            balance = (await client.data(BALANCE))["balance"]
            assert (balance["available"], balance["paidOut"]) == (50_000, 0)
            events = await subscriber.wait_for(4)
        finally:
            await subscriber.close()
    assert [e["type"] for e in events] == [
        "payout.created",
        "payout.in_transit",
        "payout.paid",
        "payout.failed",
    ]
    assert events[-1]["payout"]["status"] == "FAILED"
    types = [t for _, t, _ in await ledger_entries(stack.db, org.id)]
    assert types[-3:] == ["PAYOUT", "PAYOUT_PAID", "PAYOUT_REVERSED"]
    # The returned money went back from the connected account to the platform.
    transfer = next(t for t in stack.double.objects("transfer") if t["id"] == transfers[0]["id"])
    assert transfer["reversed"] is True


async def test_stripe_down_keeps_the_payout_pending_then_the_reconciler_submits_it_once(
    stack: StripeStack,
) -> None:
    org = await new_org(stack.db, funds=10_000)
    client, _ = await verified(stack, org)
    async with client:
        with stack.double.down():
            result = await request_payout(client, 5_000)
            assert result["userErrors"] == []
            payout = result["payout"]
            assert (payout["status"], payout["providerTransferId"]) == ("PENDING", None)
            await asyncio.sleep(1.0)  # several reconciler passes against a closed port
            balance = (await client.data(BALANCE))["balance"]
            assert (balance["available"], balance["inTransit"]) == (5_000, 5_000)
            assert (await client.data(BALANCE))["balance"]["inTransit"] == 5_000
        accepted = await wait_for_payout(
            client, payout["id"], lambda p: p["providerTransferId"] is not None
        )
        assert accepted["status"] == "PENDING"
        transfers, payouts = stripe_money_for(stack.double, payout["id"])
        assert (len(transfers), len(payouts)) == (1, 1)


async def test_killed_after_stripe_accepted_the_transfer_no_second_transfer(
    stack: StripeStack,
) -> None:
    org = await new_org(stack.db, funds=10_000)
    client, _ = await verified(stack, org)
    killed: list[str] = []

    def kill_server(transfer: dict[str, Any]) -> None:
        if not killed:
            killed.append(transfer["id"])
            stack.kill()

    stack.double.on_created("transfer", kill_server)
    try:
        async with client:
            with suppress(httpx.HTTPError):
                await client.raw(REQUEST, {"input": {"amount": 4_000}})
    finally:
        stack.double.remove_hooks("transfer")
    assert killed
    await stack.restart()

    async def payout_row() -> str | None:
        async with stack.db.read() as session:
            found = await session.execute(
                sa.select(col(Payout.id)).where(col(Payout.organization_id) == org.id)
            )
            row = found.first()
        return None if row is None else str(row[0])

    payout_id = await wait_until(payout_row, what="the payout row")
    async with GraphQLClient(stack.server.graphql_url, org.live_key) as again:
        accepted = await wait_for_payout(
            again, payout_id, lambda p: p["providerTransferId"] is not None
        )
    assert accepted["providerTransferId"] == killed[0]
    transfers, payouts = stripe_money_for(stack.double, payout_id)
    assert [t["id"] for t in transfers] == killed
    assert len(payouts) == 1
    report = verify_ledger(stack.database_url)
    assert report.returncode == 0, report.stdout + report.stderr


async def test_bad_or_stale_signatures_are_refused_and_nothing_is_stored(
    stack: StripeStack,
) -> None:
    event = {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": "account.updated",
        "created": int(time.time()),
        "livemode": True,
        "account": "acct_nobody",
        "data": {"object": {"id": "acct_nobody", "object": "account"}},
    }
    body = json.dumps(event).encode()
    url = f"{stack.server.url}/webhooks/stripe"
    attempts = {
        "wrong secret": sign(body, "whsec_not_ours", int(time.time())),
        "expired": sign(body, stack.double.webhook_secret, int(time.time()) - 301),
        "garbage": "t=1,v1=00",
    }
    async with httpx.AsyncClient() as http:
        for name, header in attempts.items():
            response = await http.post(url, content=body, headers={"Stripe-Signature": header})
            assert response.status_code == 400, name
        missing = await http.post(url, content=body)
        assert missing.status_code == 400
        accepted = await http.post(
            url,
            content=body,
            headers={"Stripe-Signature": sign(body, stack.double.webhook_secret, int(time.time()))},
        )
        assert accepted.status_code == 200  # the same body, rightly signed
    async with stack.db.read() as session:
        stored = await session.execute(
            sa.select(sa.func.count())
            .select_from(ProviderEvent)
            .where(col(ProviderEvent.event_id) == event["id"])
        )
        assert stored.scalar_one() == 1


async def test_duplicate_and_reordered_events_apply_once_and_never_backwards(
    stack: StripeStack,
) -> None:
    org = await new_org(stack.db, funds=10_000)
    client, _ = await verified(stack, org)
    async with client:
        payout_id = (await request_payout(client, 3_000))["payout"]["id"]
        await wait_for_payout(client, payout_id, lambda p: p["providerTransferId"] is not None)
        _, payouts = stripe_money_for(stack.double, payout_id)
        stack.double.hold_events = True
        try:
            in_transit = stack.double.settle_payout(payouts[0]["id"], "in_transit")
            paid = stack.double.settle_payout(payouts[0]["id"], "paid")
        finally:
            stack.double.hold_events = False
            stack.double.held_events()
        for event in (paid, paid, in_transit, paid):
            assert stack.double.deliver(event).status_code == 200
        final = await wait_for_status(client, payout_id, "PAID")
        assert [s["status"] for s in final["statusHistory"]] == ["PENDING", "IN_TRANSIT", "PAID"]
        balance = (await client.data(BALANCE))["balance"]
        assert (balance["available"], balance["paidOut"]) == (7_000, 3_000)
    async with stack.db.read() as session:
        stored = await session.execute(
            sa.select(sa.func.count())
            .select_from(ProviderEvent)
            .where(col(ProviderEvent.event_id).in_([paid["id"], in_transit["id"]]))
        )
        assert stored.scalar_one() == 2


async def test_test_mode_still_uses_the_sandbox(stack: StripeStack) -> None:
    org = await new_org(stack.db)
    before = len(stack.double.requests())
    async with GraphQLClient(stack.server.graphql_url, org.test_key) as client:
        result = (await client.data(COMPLETE_VERIFICATION, {"input": individual_input()}))[
            "completeVerification"
        ]
        assert result["userErrors"] == []
        await wait_for_account(client, "VERIFIED")
    assert len(stack.double.requests()) == before


async def test_cancel_while_stripe_still_allows_it_returns_the_money_everywhere(
    stack: StripeStack,
) -> None:
    org = await new_org(stack.db, funds=10_000)
    client, _ = await verified(stack, org)
    async with client:
        payout_id = (await request_payout(client, 6_000))["payout"]["id"]
        accepted = await wait_for_payout(
            client, payout_id, lambda p: p["providerTransferId"] is not None
        )
        platform_before = stack.double.state.platform_balance["usd"]
        result = (await client.data(CANCEL, {"input": {"payoutId": payout_id}}))["cancelPayout"]
        assert result["userErrors"] == []
        assert result["payout"]["status"] == "CANCELED"
        balance = (await client.data(BALANCE))["balance"]
        assert (balance["available"], balance["inTransit"]) == (10_000, 0)
        _, payouts = stripe_money_for(stack.double, payout_id)
        assert payouts[0]["status"] == "canceled"
        transfer = next(
            t for t in stack.double.objects("transfer") if t["id"] == accepted["providerTransferId"]
        )
        assert transfer["reversed"] is True
        assert stack.double.state.platform_balance["usd"] == platform_before + 6_000
        stack.double.wait_delivered()  # payout.canceled and transfer.reversed change nothing
        final = await wait_for_status(client, payout_id, "CANCELED")
        assert [s["status"] for s in final["statusHistory"]] == ["PENDING", "CANCELED"]
