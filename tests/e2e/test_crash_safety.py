"""Crash safety: payout requests and webhooks keep coming over loopback while the server is
killed with SIGKILL three times and restarted on the same port. Afterwards the ledger verifies,
every payout has settled within a bounded wait, and every webhook the server acknowledged was
applied exactly once.

The sandbox provider runs inside the server and delivers its own signed webhooks to it; the test
adds replays of delivered ones (duplicates). Its own server, on a private database.
(The kill between a payout's commit and its provider call is covered by
``test_payout_recovery.py``.)"""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from models import (
    Balance,
    BalanceTransaction,
    Payout,
    ProviderEvent,
    SandboxTransfer,
    SandboxWebhookDelivery,
)
from services.infra.database import Database
from services.ledger import service as ledger
from services.organizations import api_keys
from tests.support.graphql import GraphQLClient
from tests.support.live_server import LiveServer, free_port, start_server, stop
from tests.support.payout_setup import insert_verified_payout_account
from tests.support.payouts import REQUEST, verify_ledger
from tests.support.webhooks import signed

pytestmark = pytest.mark.e2e

KILLS = 3
LOAD_SECONDS = 1.5  # of load before each kill
SETTLE_SECONDS = 15.0  # bounded wait after the last restart
FUNDS = 10_000_000
SERVER_ENV = {
    "PAYOUTS_PAYOUT_MAX_ATTEMPTS": "50",  # outages here are our kills, not the provider's
    "PAYOUTS_PAYOUT_RETRY_BASE_SECONDS": "0.2",
    "PAYOUTS_PAYOUT_RETRY_GRACE_SECONDS": "0.5",
    "PAYOUTS_RECONCILER_INTERVAL_SECONDS": "0.2",
    # Claims held by a killed process expire quickly (the defaults, 30 s, are for production).
    "PAYOUTS_PAYOUT_CLAIM_LEASE_SECONDS": "1",
    "PAYOUTS_SANDBOX_DELIVERY_LEASE_SECONDS": "1",
}
ACCEPT_BOUND = (
    "PAYOUT_RETRY_GRACE_SECONDS",
    "PAYOUT_CLAIM_LEASE_SECONDS",
    "RECONCILER_INTERVAL_SECONDS",
)
TERMINAL = {"PAID", "FAILED", "CANCELED"}


async def funded_org(db: Database, *, fails_transfers: bool) -> tuple[str, str]:
    async with db.transaction() as session:
        created = await api_keys.create_organization(session, name="Crash Co")
        org_id = created.organization.id
        await ledger.credit(
            session,
            organization_id=org_id,
            livemode=False,
            currency="usd",
            amount=FUNDS,
            description=None,
            available_in_seconds=0,
        )
    await insert_verified_payout_account(db, org_id, fails_transfers=fails_transfers)
    return org_id, created.test_key


class Load:
    """Payout requests (two organizations, one whose bank fails every transfer) and webhook
    replays, until stopped. Remembers the payouts the server acknowledged."""

    def __init__(self, db: Database, keys: list[str], failing_key: str, seed: int) -> None:
        self.db = db
        self.keys = keys
        self.failing_key = failing_key
        self.random = random.Random(seed)
        self.acknowledged: set[str] = set()
        self.replays_acknowledged = 0

    async def run(self, url: str, seconds: float) -> None:
        deadline = asyncio.get_running_loop().time() + seconds
        workers = [self._payouts(url, key, deadline) for key in self.keys]
        await asyncio.gather(*workers, self._replays(url, deadline))

    async def _payouts(self, url: str, key: str, deadline: float) -> None:
        async with GraphQLClient(f"{url}/graphql", key, timeout=5.0) as client:
            while asyncio.get_running_loop().time() < deadline:
                amount = self.random.randrange(1_000, 20_000)
                try:
                    response = await client.raw(REQUEST, {"input": {"amount": amount}})
                except httpx.TransportError:
                    await asyncio.sleep(0.05)  # the server is down (or dying)
                    continue
                assert response.status_code == 200, response.text
                result = response.json()["data"]["requestPayout"]
                if result["payout"] is None:
                    # The failing bank is marked errored by its first account_closed failure.
                    codes = {e["code"] for e in result["userErrors"]}
                    assert key == self.failing_key and codes == {"NO_DEFAULT_BANK_ACCOUNT"}
                    await asyncio.sleep(0.2)
                    continue
                self.acknowledged.add(result["payout"]["id"])

    async def _replays(self, url: str, deadline: float) -> None:
        """Replay delivered sandbox events, freshly signed: duplicates must change nothing."""
        async with httpx.AsyncClient(timeout=5.0) as http:
            while asyncio.get_running_loop().time() < deadline:
                async with self.db.read() as session:
                    rows = await session.execute(
                        sa.select(col(SandboxWebhookDelivery.payload))
                        .where(col(SandboxWebhookDelivery.delivered_at).is_not(None))
                        .order_by(sa.func.random())
                        .limit(5)
                    )
                    payloads = [json.loads(p) for p in rows.scalars()]
                for payload in payloads:
                    body, headers = signed(payload)
                    try:
                        answer = await http.post(
                            f"{url}/webhooks/sandbox", content=body, headers=headers
                        )
                    except httpx.TransportError:
                        continue
                    assert answer.status_code == 200, answer.text
                    assert answer.json()["duplicate"] is True, answer.text
                    self.replays_acknowledged += 1
                await asyncio.sleep(0.05)


async def settled(db: Database) -> bool:
    """Every payout in a final state and every sandbox webhook delivered."""
    async with db.read() as session:
        open_payouts = await session.execute(
            sa.select(sa.func.count()).where(col(Payout.status).not_in(TERMINAL))
        )
        undelivered = await session.execute(
            sa.select(sa.func.count()).where(
                col(SandboxWebhookDelivery.delivered_at).is_(None),
                col(SandboxWebhookDelivery.canceled_at).is_(None),
            )
        )
        return open_payouts.scalar_one() == 0 and undelivered.scalar_one() == 0


async def wait_accepted(db: Database) -> None:
    """Payouts whose provider call a kill interrupted are picked up by the reconciler within
    the grace period, a dead process's claim lease and one interval (plus a margin)."""
    bound = sum(float(SERVER_ENV[f"PAYOUTS_{name}"]) for name in ACCEPT_BOUND) + 2.0
    deadline = asyncio.get_running_loop().time() + bound
    while True:
        async with db.read() as session:
            waiting = list(
                (
                    await session.execute(
                        sa.select(col(Payout.id)).where(
                            col(Payout.provider_transfer_id).is_(None),
                            col(Payout.status) == "PENDING",
                        )
                    )
                ).scalars()
            )
        if not waiting:
            return
        assert asyncio.get_running_loop().time() < deadline, f"not accepted in {bound}s: {waiting}"
        await asyncio.sleep(0.1)


async def wait_settled(db: Database) -> None:
    deadline = asyncio.get_running_loop().time() + SETTLE_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        if await settled(db):
            return
        await asyncio.sleep(0.2)
    async with db.read() as session:
        stuck = (
            await session.execute(sa.select(Payout).where(col(Payout.status).not_in(TERMINAL)))
        ).scalars()
        raise AssertionError(f"not settled: {[(p.id, p.status, p.attempts) for p in stuck]}")


async def test_server_killed_three_times_under_load_loses_and_doubles_nothing(
    private_database_url: str, tmp_path: Path
) -> None:
    db = Database(private_database_url)
    try:
        good_org, good_key = await funded_org(db, fails_transfers=False)
        _, failing_key = await funded_org(db, fails_transfers=True)
        load = Load(db, [good_key, good_key, failing_key], failing_key, seed=7)
        port = free_port()
        log = tmp_path / "server.log"
        for _ in range(KILLS):
            with start_server(private_database_url, log, port=port, **SERVER_ENV) as live:
                await load.run(live.url, LOAD_SECONDS)
                stop(live.process, kill=True)
                assert live.process.returncode == -9
        with start_server(private_database_url, log, port=port, **SERVER_ENV) as live:
            await load.run(live.url, LOAD_SECONDS)  # the load goes on after the last restart
            await wait_accepted(db)
            await wait_settled(db)
            await asyncio.sleep(0.5)  # any late duplicate delivery
            await check_webhooks_applied_once(db)
            await check_payouts(db, load.acknowledged, good_org)
            assert_server_alive(live)
        assert load.replays_acknowledged > 0
        check = verify_ledger(private_database_url)
        assert check.returncode == 0, check.stdout
        assert json.loads(check.stdout)["ok"] is True
    finally:
        await db.dispose()


def assert_server_alive(live: LiveServer) -> None:
    assert live.process.poll() is None
    assert httpx.get(f"{live.url}/healthz", timeout=5).status_code == 200


async def check_webhooks_applied_once(db: Database) -> None:
    async with db.read() as session:
        delivered = set(
            (
                await session.execute(
                    sa.select(col(SandboxWebhookDelivery.event_id)).where(
                        col(SandboxWebhookDelivery.delivered_at).is_not(None)
                    )
                )
            ).scalars()
        )
        rows = (
            await session.execute(
                sa.select(col(ProviderEvent.event_id), col(ProviderEvent.applied_at)).where(
                    col(ProviderEvent.provider) == "sandbox"
                )
            )
        ).all()
    stored = [str(event_id) for event_id, _ in rows]
    assert len(stored) == len(set(stored)), "an event stored twice"
    applied = {str(event_id) for event_id, applied_at in rows if applied_at is not None}
    assert delivered, "the sandbox delivered nothing"
    assert delivered <= applied, f"acknowledged but not applied: {delivered - applied}"


async def check_payouts(db: Database, acknowledged: set[str], good_org: str) -> None:
    async with db.read() as session:
        payouts = list((await session.execute(sa.select(Payout))).scalars())
        entries = (
            await session.execute(
                sa.select(col(BalanceTransaction.source_id), col(BalanceTransaction.type)).where(
                    col(BalanceTransaction.source_type) == "payout"
                )
            )
        ).all()
        transfers = (
            await session.execute(
                sa.select(col(SandboxTransfer.idempotency_key), sa.func.count()).group_by(
                    col(SandboxTransfer.idempotency_key)
                )
            )
        ).all()
        balance = (
            await session.execute(
                sa.select(Balance).where(col(Balance.organization_id) == good_org)
            )
        ).scalar_one()
    by_id = {p.id: p for p in payouts}
    assert acknowledged <= set(by_id), "an acknowledged payout is missing"
    kinds: dict[str, list[str]] = {}
    for source_id, kind in entries:
        kinds.setdefault(str(source_id), []).append(str(kind))
    expected = {"PAID": ["PAYOUT", "PAYOUT_PAID"], "FAILED": ["PAYOUT", "PAYOUT_FAILED"]}
    for payout in payouts:
        assert sorted(kinds[payout.id]) == expected[payout.status], (payout.id, payout.status)
    assert all(count == 1 for _, count in transfers), "a payout with two transfers"
    good = [p for p in payouts if p.organization_id == good_org]
    assert good and all(p.status == "PAID" for p in good)
    paid = sum(p.amount for p in good)
    assert (balance.available, balance.in_transit, balance.paid_out) == (FUNDS - paid, 0, paid)
