"""End-to-end pieces for Stripe tests: the double, a local document host, a real server
configured for Stripe on its own database, and small helpers reading the double."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.infra.database import Database
from services.ledger import service as ledger
from services.organizations import api_keys
from tests.support.graphql import GraphQLClient
from tests.support.live_server import LiveServer, free_port, stop
from tests.support.orgs import TestOrg
from tests.support.sensitive import remember_sensitive
from tests.support.stripe_app import DOCS_HOST, start_stripe_server
from tests.support.stripe_double import StripeDouble
from tests.support.tls_server import tls_server

PDF = b"%PDF-1.4\n% passport scan\n" + bytes(range(256)) * 16
DOCUMENT_URL = f"https://{DOCS_HOST}/passport.pdf"
ACCOUNT = "{ payoutAccount { id status transfersEnabled } }"


@dataclass
class StripeStack:
    double: StripeDouble
    server: LiveServer
    db: Database
    database_url: str
    start: Callable[[], LiveServer]

    def kill(self) -> None:
        """SIGKILL the server (callable from the double's thread)."""
        with suppress(ProcessLookupError):
            os.kill(self.server.process.pid, signal.SIGKILL)
        self.server.process.wait(timeout=10)

    async def restart(self) -> None:
        stop(self.server.process)
        self.server = await asyncio.to_thread(self.start)


@asynccontextmanager
async def stripe_stack(
    database_url: str, directory: Path, *, api_key: str, test_provider: bool = False
) -> AsyncIterator[StripeStack]:
    port = free_port()
    double = StripeDouble(
        api_key=api_key,
        webhook_secret="whsec_e2e_connect_endpoint",
        webhook_url=f"http://127.0.0.1:{port}/webhooks/stripe",
    ).start()
    db = Database(database_url)
    contexts: list[Any] = []
    async with tls_server(DOCS_HOST) as docs:
        docs.routes["/passport.pdf"] = lambda: (200, [("content-type", "application/pdf")], [PDF])
        ca_path = directory / "docs-ca.pem"
        ca_path.write_bytes(docs.ca_pem)

        def start() -> LiveServer:
            context = start_stripe_server(
                database_url,
                directory / "server.log",
                port=port,
                double=double,
                docs_port=docs.port,
                docs_ca=ca_path,
                test_provider=test_provider,
            )
            contexts.append(context)
            return context.__enter__()

        server = await asyncio.to_thread(start)
        stack = StripeStack(double, server, db, database_url, start)
        try:
            yield stack
        finally:
            stop(stack.server.process)
            double.close()
            await db.dispose()


async def new_org(db: Database, *, funds: int = 0, livemode: bool = True) -> TestOrg:
    async with db.transaction() as session:
        created = await api_keys.create_organization(session, name=f"Stripe {uuid.uuid4().hex[:6]}")
        if funds:
            await ledger.credit(
                session,
                organization_id=created.organization.id,
                livemode=livemode,
                currency="usd",
                amount=funds,
                description=None,
                available_in_seconds=0,
            )
    remember_sensitive(created.test_key, created.live_key)
    return TestOrg(created.organization.id, "Stripe", created.test_key, created.live_key)


async def wait_until(
    predicate: Callable[[], Awaitable[Any]], timeout: float = 15.0, what: str = "condition"
) -> Any:
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


async def wait_for_account(client: GraphQLClient, status: str) -> None:
    async def reached() -> bool:
        return await account_status(client) == status

    await wait_until(reached, what=f"payout account {status}")


def stripe_account_of(double: StripeDouble, external_id: str) -> dict[str, Any]:
    """The Stripe account holding this external (bank) account."""
    return next(
        a
        for a in double.objects("account")
        if any(b["id"] == external_id for b in a["external_accounts"]["data"])
    )


def stripe_money_for(double: StripeDouble, payout_id: str) -> tuple[list[Any], list[Any]]:
    """The Stripe transfers and payouts carrying our payout's id."""
    transfers = [
        t for t in double.objects("transfer") if t["metadata"].get("payout_id") == payout_id
    ]
    payouts = [p for p in double.objects("payout") if p["metadata"].get("payout_id") == payout_id]
    return transfers, payouts
