"""What the sandbox writes when it creates a transfer: the transfer once per key and its two
settlement webhooks (in transit, then paid, or failed for a failing destination); nothing at
all for a destination of another account. Both backends: PostgreSQL writes it in one
statement, SQLite through the unit of work."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import col

from api.settings import Settings
from models import SandboxWebhookDelivery
from models.sandbox import SandboxTransfer
from providers.base import ProviderError, TransferRequest
from providers.sandbox import SandboxConfig, SandboxProvider
from services.infra.database import Database
from tests.providers.test_provider_contract import account_request, bank

DELAY = 3600.0


@pytest.fixture
def sandbox(db: Database) -> SandboxProvider:
    config = SandboxConfig(
        webhook_url="http://127.0.0.1:9/webhooks/sandbox",  # never delivered here
        webhook_secret=Settings().sandbox_webhook_secret,
        delay_seconds=DELAY,
    )
    return SandboxProvider(db, config, is_postgres=not db.is_sqlite)


async def destination(sandbox: SandboxProvider, number: str = "000123456789") -> tuple[str, str]:
    account = await sandbox.create_account(account_request())
    if number == "000123456789":
        return account.id, account.external_account.id
    added = await sandbox.add_external_account(
        account.id, bank(number), idempotency_key=f"ba:{uuid.uuid4().hex}"
    )
    return account.id, added.id


def request(account_id: str, external_id: str, key: str | None = None) -> TransferRequest:
    return TransferRequest(
        idempotency_key=key or f"payout_{uuid.uuid4().hex}",
        livemode=False,
        account_id=account_id,
        external_account_id=external_id,
        amount=2500,
        currency="usd",
    )


async def webhooks(db: Database, transfer_id: str) -> list[SandboxWebhookDelivery]:
    async with db.read() as session:
        rows = await session.execute(
            sa.select(SandboxWebhookDelivery)
            .where(col(SandboxWebhookDelivery.object_id) == transfer_id)
            .order_by(col(SandboxWebhookDelivery.deliver_at))
        )
        return list(rows.scalars())


async def transfers_with_key(db: Database, key: str) -> list[SandboxTransfer]:
    async with db.read() as session:
        rows = await session.execute(
            sa.select(SandboxTransfer).where(col(SandboxTransfer.idempotency_key) == key)
        )
        return list(rows.scalars())


async def test_a_transfer_schedules_in_transit_then_paid(
    db: Database, sandbox: SandboxProvider
) -> None:
    account_id, external_id = await destination(sandbox)
    wanted = request(account_id, external_id)

    transfer = await sandbox.create_transfer(wanted)

    assert transfer.status == "pending"
    (stored,) = await transfers_with_key(db, wanted.idempotency_key)
    assert (stored.id, stored.amount, stored.currency, stored.status) == (
        transfer.id,
        2500,
        "usd",
        "pending",
    )
    assert (stored.account_id, stored.external_account_id) == (account_id, external_id)
    first, final = await webhooks(db, transfer.id)
    first_payload, final_payload = json.loads(first.payload), json.loads(final.payload)
    assert first_payload["data"]["object"] == {
        "id": transfer.id,
        "object": "transfer",
        "status": "in_transit",
        "amount": 2500,
        "currency": "usd",
        "destination": external_id,
    }
    assert final_payload["data"]["object"] == {**first_payload["data"]["object"], "status": "paid"}
    assert (first_payload["id"], final_payload["id"]) == (first.event_id, final.event_id)
    assert first.event_id != final.event_id
    assert {first_payload["type"], final_payload["type"]} == {"transfer.updated"}
    assert final.deliver_at - first.deliver_at == timedelta(seconds=DELAY)
    assert first.delivered_at is None and first.attempts == 0 and first.lease_until is None


async def test_a_failing_destination_schedules_in_transit_then_failed(
    db: Database, sandbox: SandboxProvider
) -> None:
    account_id, external_id = await destination(sandbox, "000123450002")

    transfer = await sandbox.create_transfer(request(account_id, external_id))

    first, final = await webhooks(db, transfer.id)
    assert json.loads(first.payload)["data"]["object"]["status"] == "in_transit"
    final_object = json.loads(final.payload)["data"]["object"]
    assert final_object["status"] == "failed"
    assert final_object["failure_code"] == "account_closed"
    assert final_object["failure_message"] == "The destination bank account is closed."


async def test_the_same_key_returns_the_same_transfer_and_schedules_nothing_more(
    db: Database, sandbox: SandboxProvider
) -> None:
    account_id, external_id = await destination(sandbox)
    wanted = request(account_id, external_id)

    first = await sandbox.create_transfer(wanted)
    again = await sandbox.create_transfer(wanted)

    assert again == first
    assert len(await transfers_with_key(db, wanted.idempotency_key)) == 1
    assert len(await webhooks(db, first.id)) == 2


async def test_a_destination_of_another_account_writes_nothing(
    db: Database, sandbox: SandboxProvider
) -> None:
    account_id, _ = await destination(sandbox)
    _, foreign_external_id = await destination(sandbox)
    wanted = request(account_id, foreign_external_id)

    with pytest.raises(ProviderError):
        await sandbox.create_transfer(wanted)

    assert await transfers_with_key(db, wanted.idempotency_key) == []
