"""Live mode on Stripe Connect, end to end (issue 13's acceptance list): a real uvicorn server
with a live key, its Stripe adapter pointed at the Stripe double, Stripe's signed events
delivered by the double to ``POST /webhooks/stripe``. One server and one private database for
the module; each test its own organization."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from models import Payout, ProviderEvent
from services import api_keys, ledger
from services.database import Database
from tests.conftest import migrated_database
from tests.support.accounts import COMPLETE_VERIFICATION, company_input, individual_input
from tests.support.graphql import GraphQLClient
from tests.support.live_client import PAYOUT_UPDATED, Subscriber, head_cursor, ws_session
from tests.support.live_server import LiveServer, free_port, stop
from tests.support.orgs import TestOrg
from tests.support.payouts import (
    BALANCE,
    REQUEST,
    ledger_entries,
    request_payout,
    verify_ledger,
    wait_for_payout,
    wait_for_status,
)
from tests.support.sensitive import remember_sensitive
from tests.support.stripe_app import DOCS_HOST, start_stripe_server
from tests.support.stripe_double import StripeDouble, sign
from tests.support.tls_server import TlsServer, tls_server

pytestmark = pytest.mark.e2e

PDF = b"%PDF-1.4\n% passport scan\n" + bytes(range(256)) * 16
DOCUMENT_URL = f"https://{DOCS_HOST}/passport.pdf"
ADD_BANK = """
mutation($input: AddBankAccountInput!) {
  addBankAccount(input: $input) {
    bankAccount { id last4 bankName isDefault status providerExternalAccountId }
    userErrors { code message field }
  }
}"""
ACCOUNT = "{ payoutAccount { id status transfersEnabled } }"


@dataclass
class Stack:
    double: StripeDouble
    server: LiveServer
    db: Database
    database_url: str
    docs: TlsServer
    ca_path: Path
    log_path: Path

    def restart(self) -> None:
        stop(self.server.process)
        self.server = self._start()

    def kill(self) -> None:
        with suppress(ProcessLookupError):
            os.kill(self.server.process.pid, signal.SIGKILL)
        self.server.process.wait(timeout=10)

    def _start(self) -> LiveServer:
        self._context = start_stripe_server(
            self.database_url,
            self.log_path,
            port=self.server.port,
            double=self.double,
            docs_port=self.docs.port,
            docs_ca=self.ca_path,
        )
        return self._context.__enter__()


@pytest.fixture(scope="module")
def stripe_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with migrated_database(tmp_path_factory.mktemp("stripe-db")) as url:
        yield url


@pytest.fixture(scope="module")
async def stack(
    stripe_database: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    directory = tmp_path_factory.mktemp("stripe-e2e")
    port = free_port()
    double = StripeDouble(
        api_key="sk_live_double_e2e_0123456789",
        webhook_secret="whsec_e2e_connect_endpoint",
        webhook_url=f"http://127.0.0.1:{port}/webhooks/stripe",
    ).start()
    db = Database(stripe_database)
    async with tls_server(DOCS_HOST) as docs:
        docs.routes["/passport.pdf"] = lambda: (200, [("content-type", "application/pdf")], [PDF])
        ca_path = directory / "docs-ca.pem"
        ca_path.write_bytes(docs.ca_pem)
        log_path = directory / "server.log"
        context = start_stripe_server(
            stripe_database,
            log_path,
            port=port,
            double=double,
            docs_port=docs.port,
            docs_ca=ca_path,
        )
        server = await asyncio.to_thread(context.__enter__)
        stack = Stack(double, server, db, stripe_database, docs, ca_path, log_path)
        try:
            yield stack
        finally:
            stop(stack.server.process)
            double.close()
            await db.dispose()


async def live_org(stack: Stack, funds: int = 0) -> TestOrg:
    async with stack.db.transaction() as session:
        created = await api_keys.create_organization(session, name=f"Live {uuid.uuid4().hex[:6]}")
        if funds:
            await ledger.credit(
                session,
                organization_id=created.organization.id,
                livemode=True,
                currency="usd",
                amount=funds,
                description=None,
                available_in_seconds=0,
            )
    remember_sensitive(created.test_key, created.live_key)
    return TestOrg(created.organization.id, "Live", created.test_key, created.live_key)


async def wait_until(predicate: Any, timeout: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} not reached in {timeout}s")


async def account_status(client: GraphQLClient) -> str | None:
    account = (await client.data(ACCOUNT))["payoutAccount"]
    return None if account is None else str(account["status"])


async def open_account(stack: Stack, client: GraphQLClient, **input: Any) -> dict[str, Any]:
    data = input or individual_input(document_url=DOCUMENT_URL)
    result = (await client.data(COMPLETE_VERIFICATION, {"input": data}))["completeVerification"]
    assert result["userErrors"] == [], result
    return dict(result)


def stripe_account_of(stack: Stack, external_id: str) -> dict[str, Any]:
    return next(
        a
        for a in stack.double.objects("account")
        if any(b["id"] == external_id for b in a["external_accounts"]["data"])
    )


async def verified(stack: Stack, org: TestOrg) -> tuple[GraphQLClient, dict[str, Any]]:
    client = GraphQLClient(stack.server.graphql_url, org.live_key)
    opened = await open_account(stack, client)
    bank = opened["payoutAccount"]["defaultBankAccount"]
    account = stripe_account_of(stack, bank["providerExternalAccountId"])
    stack.double.review_account(account["id"], "verified")
    await wait_until(lambda: _is(client, "VERIFIED"), what="VERIFIED after account.updated")
    return client, account


async def _is(client: GraphQLClient, status: str) -> bool:
    return await account_status(client) == status


def stripe_payouts_for(stack: Stack, payout_id: str) -> tuple[list[Any], list[Any]]:
    transfers = [
        t for t in stack.double.objects("transfer") if t["metadata"].get("payout_id") == payout_id
    ]
    payouts = [
        p for p in stack.double.objects("payout") if p["metadata"].get("payout_id") == payout_id
    ]
    return transfers, payouts


async def test_verification_reaches_verified_restricted_or_disabled_from_account_updated(
    stack: Stack,
) -> None:
    org = await live_org(stack)
    async with GraphQLClient(stack.server.graphql_url, org.live_key) as client:
        opened = await open_account(stack, client)
        account = opened["payoutAccount"]
        assert opened["outcome"] == "CREATED"
        assert account["status"] == "PENDING_VERIFICATION"
        assert account["livemode"] is True
        bank = account["defaultBankAccount"]
        assert bank["bankName"] == "STRIPE TEST BANK"
        assert bank["providerExternalAccountId"].startswith("ba_")
        stripe_account = stripe_account_of(stack, bank["providerExternalAccountId"])
        front = stripe_account["individual"]["verification"]["document"]["front"]
        assert stack.double.file_bytes(front) == PDF  # the bytes reached Stripe unchanged
        assert stripe_account["tos_acceptance"]["ip"] == "127.0.0.1"
        stack.double.review_account(stripe_account["id"], "verified")
        await wait_until(lambda: _is(client, "VERIFIED"), what="VERIFIED")
        stack.double.review_account(stripe_account["id"], "requirements_due")
        await wait_until(lambda: _is(client, "RESTRICTED"), what="RESTRICTED")
        stack.double.review_account(stripe_account["id"], "rejected.fraud")
        await wait_until(lambda: _is(client, "DISABLED"), what="DISABLED")


async def test_a_company_account_sends_its_representative(stack: Stack) -> None:
    org = await live_org(stack)
    async with GraphQLClient(stack.server.graphql_url, org.live_key) as client:
        opened = await open_account(stack, client, **company_input(document_url=DOCUMENT_URL))
        bank = opened["payoutAccount"]["defaultBankAccount"]
        stripe_account = stripe_account_of(stack, bank["providerExternalAccountId"])
        people = [p for p in stack.double.objects("person") if p["account"] == stripe_account["id"]]
        assert [p["relationship"]["representative"] for p in people] == [True]
        assert stack.double.file_bytes(people[0]["verification"]["document"]["front"]) == PDF


async def test_add_bank_account_creates_an_external_account_and_moves_the_default(
    stack: Stack,
) -> None:
    org = await live_org(stack)
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
                    "routingNumber": "12",
                }
            },
        )
        errors = refused["addBankAccount"]["userErrors"]
        assert errors and errors[0]["code"] == "VALIDATION_ERROR"
        assert errors[0]["field"][-1] == "routingNumber"


async def test_a_payout_is_paid_through_stripe_and_a_bank_return_gives_the_money_back(
    stack: Stack,
) -> None:
    org = await live_org(stack, funds=50_000)
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
            transfers, payouts = stripe_payouts_for(stack, payout_id)
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
    assert [e["payout"]["status"] for e in events] == ["PENDING", "IN_TRANSIT", "PAID", "FAILED"]
    types = [t for _, t, _ in await ledger_entries(stack.db, org.id)]
    assert types[-3:] == ["payout", "payout_paid", "payout_reversed"]


async def test_stripe_down_keeps_the_payout_pending_then_the_reconciler_submits_it_once(
    stack: Stack,
) -> None:
    org = await live_org(stack, funds=10_000)
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
        accepted = await wait_for_payout(
            client, payout["id"], lambda p: p["providerTransferId"] is not None
        )
        assert accepted["status"] == "PENDING"
        transfers, payouts = stripe_payouts_for(stack, payout["id"])
        assert (len(transfers), len(payouts)) == (1, 1)


async def test_killed_after_stripe_accepted_the_transfer_no_second_transfer(stack: Stack) -> None:
    org = await live_org(stack, funds=10_000)
    client, _ = await verified(stack, org)
    killed: list[str] = []

    def kill_server(transfer: dict[str, Any]) -> None:
        if transfer["metadata"].get("payout_id") and not killed:
            killed.append(transfer["id"])
            stack.kill()

    stack.double.on_created("transfer", kill_server)
    try:
        async with client:
            with suppress(httpx.HTTPError):
                await client.raw(REQUEST, {"input": {"amount": 4_000}})
    finally:
        stack.double._hooks["transfer"].remove(kill_server)
    assert killed
    await asyncio.to_thread(stack.restart)
    async with GraphQLClient(stack.server.graphql_url, org.live_key) as client:
        payout_id = await wait_until(lambda: _payout_of(stack, org.id), what="the payout row")
        accepted = await wait_for_payout(
            client, payout_id, lambda p: p["providerTransferId"] is not None
        )
        assert accepted["providerTransferId"] == killed[0]
    transfers, payouts = stripe_payouts_for(stack, payout_id)
    assert [t["id"] for t in transfers] == killed
    assert len(payouts) == 1
    report = verify_ledger(stack.database_url)
    assert report.returncode == 0, report.stdout + report.stderr


async def _payout_of(stack: Stack, org_id: str) -> str | None:
    async with stack.db.read() as session:
        found = await session.execute(
            sa.select(col(Payout.id)).where(col(Payout.organization_id) == org_id)
        )
        row = found.first()
    return None if row is None else str(row[0])


async def test_bad_or_stale_signatures_are_refused_and_nothing_is_stored(stack: Stack) -> None:
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
    async with stack.db.read() as session:
        stored = await session.execute(
            sa.select(col(ProviderEvent.id)).where(col(ProviderEvent.event_id) == event["id"])
        )
        assert stored.first() is None


async def test_duplicate_and_reordered_events_apply_once_and_never_backwards(
    stack: Stack,
) -> None:
    org = await live_org(stack, funds=10_000)
    client, _ = await verified(stack, org)
    async with client:
        payout_id = (await request_payout(client, 3_000))["payout"]["id"]
        await wait_for_payout(client, payout_id, lambda p: p["providerTransferId"] is not None)
        _, payouts = stripe_payouts_for(stack, payout_id)
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


async def test_test_mode_still_uses_the_sandbox(stack: Stack) -> None:
    org = await live_org(stack)
    before = len(stack.double.requests())
    async with GraphQLClient(stack.server.graphql_url, org.test_key) as client:
        result = (await client.data(COMPLETE_VERIFICATION, {"input": individual_input()}))[
            "completeVerification"
        ]
        assert result["userErrors"] == []
        await wait_until(lambda: _is(client, "VERIFIED"), what="sandbox VERIFIED")
    assert len(stack.double.requests()) == before
