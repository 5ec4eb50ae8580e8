"""Payouts the provider never accepted: a provider outage (retried, then failed with funds
back) and a process killed between the commit and the provider call (finished after restart).
Each runs its own server on a private database."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col

from models import Payout, SandboxTransfer
from services.infra.database import Database
from services.organizations import api_keys
from tests.support.graphql import GraphQLClient
from tests.support.live_server import start_server
from tests.support.payout_setup import insert_verified_payout_account
from tests.support.payouts import REQUEST, balance, credit, verify_ledger, wait_for_status

pytestmark = pytest.mark.e2e

FAST_RETRIES: dict[str, Any] = {
    "PAYOUTS_PAYOUT_MAX_ATTEMPTS": "3",
    "PAYOUTS_PAYOUT_RETRY_BASE_SECONDS": "0.2",
    "PAYOUTS_PAYOUT_RETRY_GRACE_SECONDS": "0.5",
    "PAYOUTS_RECONCILER_INTERVAL_SECONDS": "0.1",
}


async def new_org(url: str) -> tuple[Database, str, str]:
    db = Database(url)
    async with db.transaction() as session:
        created = await api_keys.create_organization(session, name="Recovery Co")
    await insert_verified_payout_account(db, created.organization.id)
    return db, created.organization.id, created.test_key


async def transfers_for(db: Database, payout: Payout) -> int:
    async with db.read() as session:
        result = await session.execute(
            sa.select(sa.func.count()).where(
                col(SandboxTransfer.idempotency_key) == payout.provider_idempotency_key
            )
        )
        return int(result.scalar_one())


async def load(db: Database, payout_id: str) -> Payout:
    async with db.read() as session:
        payout = await session.get(Payout, payout_id)
    assert payout is not None
    return payout


async def test_provider_outage_is_retried_then_failed_with_funds_back(
    private_database_url: str, tmp_path: Path
) -> None:
    db, _, key = await new_org(private_database_url)
    env: dict[str, Any] = {**FAST_RETRIES, "PAYOUTS_SANDBOX_REFUSE_TRANSFERS": "true"}
    try:
        with start_server(private_database_url, tmp_path / "server.log", **env) as live:
            async with GraphQLClient(live.graphql_url, key) as client:
                await credit(client, 8_000)
                created = (await client.data(REQUEST, {"input": {"amount": 3_000}}))[
                    "requestPayout"
                ]["payout"]
                assert created["status"] == "PENDING"
                failed = await wait_for_status(client, created["id"], "FAILED", timeout=60)
                final = await balance(client)
        payout = await load(db, created["id"])
        assert failed["failureCode"] == "provider_unavailable"
        assert failed["providerTransferId"] is None
        assert (final["available"], final["inTransit"], final["paidOut"]) == (8_000, 0, 0)
        assert payout.attempts == 3
        assert "refusing" in (payout.last_error or "")
        assert await transfers_for(db, payout) == 0
        check = verify_ledger(private_database_url)
        assert check.returncode == 0, check.stdout
    finally:
        await db.dispose()


async def test_process_killed_after_commit_is_finished_by_reconciler_after_restart(
    private_database_url: str, tmp_path: Path
) -> None:
    db, _, key = await new_org(private_database_url)
    log = tmp_path / "server.log"
    try:
        with start_server(
            private_database_url, log, **FAST_RETRIES, PAYOUTS_FAULT_KILL_AFTER_PAYOUT_COMMIT="1"
        ) as doomed:
            async with GraphQLClient(doomed.graphql_url, key) as client:
                await credit(client, 8_000)
                with pytest.raises(httpx.TransportError):
                    await client.raw(REQUEST, {"input": {"amount": 5_000}})
            assert doomed.process.wait(timeout=10) == -9
        async with db.read() as session:
            stranded = (await session.execute(sa.select(Payout))).scalars().one()
        assert stranded.status == "PENDING" and stranded.provider_transfer_id is None

        with start_server(private_database_url, log, **FAST_RETRIES) as restarted:
            async with GraphQLClient(restarted.graphql_url, key) as client:
                paid = await wait_for_status(client, stranded.id, "PAID", timeout=60)
                final = await balance(client)
                await asyncio.sleep(0.5)  # let any late duplicate webhook arrive
                again = await balance(client)
        assert paid["providerTransferId"] is not None
        assert (final["available"], final["inTransit"], final["paidOut"]) == (3_000, 0, 5_000)
        assert again == final
        assert await transfers_for(db, await load(db, stranded.id)) == 1
        check = verify_ledger(private_database_url)
        assert check.returncode == 0, check.stdout
        assert json.loads(check.stdout)["ok"] is True
    finally:
        await db.dispose()
