"""The sandbox's account side: idempotent creation, deterministic outcomes, scheduled webhook."""

from __future__ import annotations

import asyncio
import json

import pytest
import sqlalchemy as sa
from sqlmodel import col

from api.settings import Settings
from models import SandboxAccount, SandboxExternalAccount, SandboxWebhookDelivery
from models.base import new_id
from providers.base import AccountRequest, BankDetails, ProviderError
from providers.sandbox import SandboxConfig, SandboxProvider
from services.infra.database import Database


def provider(db: Database) -> SandboxProvider:
    config = SandboxConfig(
        webhook_url="http://127.0.0.1:9/webhooks/sandbox",  # never delivered in these tests
        webhook_secret=Settings().sandbox_webhook_secret,
        delay_seconds=3600,
    )
    return SandboxProvider(db, config, is_postgres=not db.is_sqlite)


def bank(number: str = "000123456789") -> BankDetails:
    return BankDetails(number, "Ada", "110000000", "checking", "US", "usd")


def request(
    key: str, *, id_number: str = "123456789", number: str = "000123456789"
) -> AccountRequest:
    return AccountRequest(
        idempotency_key=key,
        livemode=False,
        email="ada@example.com",
        business_type="individual",
        business_url="https://ada.example.com",
        country="US",
        bank=bank(number),
        document=None,
        individual={"id_number": id_number},
    )


async def scheduled(db: Database, account_id: str) -> list[dict[str, object]]:
    async with db.read() as session:
        rows = await session.execute(
            sa.select(col(SandboxWebhookDelivery.payload)).where(
                col(SandboxWebhookDelivery.object_id) == account_id
            )
        )
        return [json.loads(p)["data"]["object"] for p in rows.scalars()]


async def test_concurrent_creations_with_one_key_make_one_account(db: Database) -> None:
    sandbox = provider(db)
    key = new_id("k")
    accounts = await asyncio.gather(*(sandbox.create_account(request(key)) for _ in range(10)))
    assert len({a.id for a in accounts}) == 1
    assert len({a.external_account.id for a in accounts}) == 1
    assert accounts[0].status == "pending_verification"
    assert await scheduled(db, accounts[0].id) == [
        {"id": accounts[0].id, "object": "account", "status": "verified", "transfers_enabled": True}
    ]


async def test_zero_id_number_plans_rejection(db: Database) -> None:
    account = await provider(db).create_account(request(new_id("k"), id_number="000000000"))
    (update,) = await scheduled(db, account.id)
    assert update["status"] == "rejected" and update["transfers_enabled"] is False


async def test_account_number_ending_0002_fails_transfers_and_keeps_only_last4(
    db: Database,
) -> None:
    sandbox = provider(db)
    account = await sandbox.create_account(request(new_id("k"), number="4440002"))
    other = await sandbox.add_external_account(
        account.id, bank("99990001"), idempotency_key=new_id("b")
    )
    async with db.read() as session:
        failing = await session.get(SandboxExternalAccount, account.external_account.id)
        fine = await session.get(SandboxExternalAccount, other.id)
        stored = await session.get(SandboxAccount, account.id)
    assert failing is not None and failing.fails_transfers and failing.last4 == "0002"
    assert fine is not None and not fine.fails_transfers and fine.last4 == "0001"
    assert stored is not None and stored.planned_status == "verified"


async def test_external_account_for_unknown_account_is_a_provider_error(db: Database) -> None:
    with pytest.raises(ProviderError):
        await provider(db).add_external_account("sbacct_nope", bank(), idempotency_key=new_id("b"))


async def test_set_account_status_schedules_a_webhook(db: Database) -> None:
    sandbox = provider(db)
    account = await sandbox.create_account(request(new_id("k")))
    await sandbox.set_account_status(account.id, "restricted")
    statuses = [str(u["status"]) for u in await scheduled(db, account.id)]
    assert sorted(statuses) == ["restricted", "verified"]


async def test_external_account_key_reused_for_another_account_is_refused(db: Database) -> None:
    sandbox = provider(db)
    first = await sandbox.create_account(request(new_id("k")))
    second = await sandbox.create_account(request(new_id("k")))
    key = new_id("b")
    await sandbox.add_external_account(first.id, bank("55556666"), idempotency_key=key)
    with pytest.raises(ProviderError):
        await sandbox.add_external_account(second.id, bank("55556666"), idempotency_key=key)
