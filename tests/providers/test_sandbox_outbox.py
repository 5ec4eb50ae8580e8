"""The sandbox delivers its webhooks by signed HTTP POST to our server, retrying until 2xx."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col

from api.settings import Settings
from models import ProviderEvent, SandboxWebhookDelivery
from models.base import new_id
from providers.sandbox import SandboxConfig, SandboxProvider
from providers.sandbox.outbox import schedule_webhook
from services.infra.database import Database
from tests.providers.test_sandbox_accounts import request as account_request
from tests.support.live_server import free_port, start_server

pytestmark = pytest.mark.e2e


def provider_for(db: Database, url: str) -> SandboxProvider:
    config = SandboxConfig(
        webhook_url=f"{url}/webhooks/sandbox",
        webhook_secret=Settings().sandbox_webhook_secret,
        delay_seconds=0,
        poll_seconds=0.05,
    )
    return SandboxProvider(db, config, is_postgres=not db.is_sqlite)


async def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def schedule(db: Database, object_id: str) -> str:
    async with db.transaction() as session:
        row = schedule_webhook(
            session,
            event_type="transfer.updated",
            livemode=False,
            obj={"id": object_id, "status": "in_transit"},
            delay_seconds=0,
        )
        return row.event_id


async def received(db: Database, event_id: str) -> bool:
    async with db.read() as session:
        found = await session.execute(
            sa.select(col(ProviderEvent.id)).where(col(ProviderEvent.event_id) == event_id)
        )
        return found.first() is not None


async def test_scheduled_webhook_reaches_server_signed(
    private_database_url: str, tmp_path: Path
) -> None:
    # A private database and server: the session server's deliverer must not take this row.
    db = Database(private_database_url)
    with start_server(private_database_url, tmp_path / "server.log") as server:
        provider = provider_for(db, server.url)
        event_id = await schedule(db, new_id("sbtr"))
        await provider.deliverer.start()
        try:
            await wait_for(lambda: received(db, event_id))
        finally:
            await provider.deliverer.stop()
    async with db.read() as session:
        row = (
            await session.execute(
                sa.select(SandboxWebhookDelivery).where(
                    col(SandboxWebhookDelivery.event_id) == event_id
                )
            )
        ).scalar_one()
    await db.dispose()
    assert row.delivered_at is not None and row.attempts == 0


async def test_delivery_retries_until_server_is_up(
    private_database_url: str, tmp_path: Path
) -> None:
    # A private database: the session server's own deliverer must not take this row.
    db = Database(private_database_url)
    port = free_port()
    provider = provider_for(db, f"http://127.0.0.1:{port}")
    event_id = await schedule(db, new_id("sbtr"))
    await provider.deliverer.start()
    try:

        async def attempted() -> bool:
            async with db.read() as session:
                row = (
                    await session.execute(
                        sa.select(SandboxWebhookDelivery).where(
                            col(SandboxWebhookDelivery.event_id) == event_id
                        )
                    )
                ).scalar_one()
                return row.attempts >= 1

        await wait_for(attempted)
        with start_server(private_database_url, tmp_path / "late.log", port=port):
            await wait_for(lambda: received(db, event_id), timeout=20)
    finally:
        await provider.deliverer.stop()
        await db.dispose()


async def test_due_rows_wake_the_deliverer_without_the_poll(private_database_url: str) -> None:
    """The poll is a slow backstop: an account's scheduled review and a failed attempt's retry
    wake the deliverer when they fall due (the receiver here is down, so attempts count)."""
    db = Database(private_database_url)
    config = SandboxConfig(
        webhook_url=f"http://127.0.0.1:{free_port()}/webhooks/sandbox",
        webhook_secret=Settings().sandbox_webhook_secret,
        delay_seconds=0.3,
        poll_seconds=3600,
    )
    sandbox = SandboxProvider(db, config, is_postgres=not db.is_sqlite)
    await sandbox.deliverer.start()
    try:
        await asyncio.sleep(0.2)  # the first pass (at start) has run and found nothing
        account = await sandbox.create_account(account_request(new_id("k")))

        async def retried() -> bool:
            async with db.read() as session:
                attempts = (
                    await session.execute(
                        sa.select(col(SandboxWebhookDelivery.attempts)).where(
                            col(SandboxWebhookDelivery.object_id) == account.id
                        )
                    )
                ).scalar_one()
                return attempts >= 3  # at 0.3 s, then after 0.4 s and 0.8 s of backoff

        await wait_for(retried, timeout=15)
    finally:
        await sandbox.deliverer.stop()
        await db.dispose()
