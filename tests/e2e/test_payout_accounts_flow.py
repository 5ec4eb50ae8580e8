"""completeVerification on the running server: created once, verified by a real webhook."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from models import BankAccount, PayoutAccount, ProviderEvent, SandboxAccount
from services.infra.database import Database
from tests.support.accounts import (
    company_input,
    complete_verification,
    individual_input,
    verified_payout_account,
    wait_for_account_status,
)
from tests.support.graphql import GraphQLClient
from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg

pytestmark = pytest.mark.e2e


async def count(db: Database, stmt: sa.Select[Any]) -> int:
    async with db.read() as session:
        return int((await session.execute(stmt)).scalar_one())


async def accounts_of(db: Database, org_id: str) -> list[PayoutAccount]:
    async with db.read() as session:
        rows = await session.execute(
            sa.select(PayoutAccount).where(col(PayoutAccount.organization_id) == org_id)
        )
        return list(rows.scalars())


async def provider_accounts_of(db: Database, org_id: str) -> int:
    return await count(
        db,
        sa.select(sa.func.count()).where(
            col(SandboxAccount.idempotency_key).like(f"payout-account:{org_id}:%")
        ),
    )


async def test_complete_verification_twice_is_created_then_existing(
    server: LiveServer, db: Database, org: TestOrg
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        first = await complete_verification(client, individual_input())
        second = await complete_verification(client, individual_input(email="other@example.com"))
    assert first["userErrors"] == [] and second["userErrors"] == []
    assert first["outcome"] == "CREATED" and second["outcome"] == "EXISTING"
    assert first["payoutAccount"]["id"] == second["payoutAccount"]["id"]
    assert first["payoutAccount"]["id"].startswith("pacct_")
    assert first["payoutAccount"]["status"] == "PENDING_VERIFICATION"
    assert second["payoutAccount"]["email"] == "ada@example.com"
    bank = first["payoutAccount"]["defaultBankAccount"]
    assert bank["last4"] == "6789" and bank["isDefault"] and bank["status"] == "ACTIVE"
    assert len(await accounts_of(db, org.id)) == 1
    assert await provider_accounts_of(db, org.id) == 1


async def test_account_becomes_verified_through_a_received_webhook(
    server: LiveServer, db: Database, org: TestOrg
) -> None:
    loop = asyncio.get_running_loop()
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        started = loop.time()
        created = await complete_verification(client, individual_input())
        account = await wait_for_account_status(client, "VERIFIED", timeout=2.0)
    assert loop.time() - started < 2.0
    assert account["transfersEnabled"] is True and account["verifiedAt"] is not None
    (row,) = await accounts_of(db, org.id)
    assert row.id == created["payoutAccount"]["id"]
    async with db.read() as session:
        event = (
            await session.execute(
                sa.select(ProviderEvent).where(
                    col(ProviderEvent.object_id) == row.provider_account_id
                )
            )
        ).scalar_one()
    assert event.provider == "sandbox" and event.applied_at is not None


async def test_id_number_of_zeros_ends_disabled(server: LiveServer, org: TestOrg) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        result = await complete_verification(client, individual_input(id_number="000000000"))
        assert result["userErrors"] == []
        account = await wait_for_account_status(client, "DISABLED")
    assert account["transfersEnabled"] is False and account["verifiedAt"] is None


async def test_company_with_zero_tax_id_ends_disabled(server: LiveServer, org: TestOrg) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        result = await complete_verification(client, company_input(tax_id="000000000"))
        assert result["userErrors"] == [], result
        await wait_for_account_status(client, "DISABLED")


async def test_live_mode_without_provider_is_not_configured_and_stores_nothing(
    server: LiveServer, db: Database, org: TestOrg
) -> None:
    async with GraphQLClient(server.graphql_url, org.live_key) as client:
        result = await complete_verification(client, individual_input())
        assert (await client.data("{ payoutAccount { id } }"))["payoutAccount"] is None
    assert [e["code"] for e in result["userErrors"]] == ["PROVIDER_NOT_CONFIGURED"]
    assert result["payoutAccount"] is None
    assert await accounts_of(db, org.id) == []
    assert await provider_accounts_of(db, org.id) == 0


async def test_support_helper_returns_a_verified_account(
    server: LiveServer, db: Database, org: TestOrg
) -> None:
    account = await verified_payout_account(
        server.graphql_url, org.test_key, account_number="1110002"
    )
    assert account["status"] == "VERIFIED"
    assert account["defaultBankAccount"]["last4"] == "0002"
    assert (
        await count(
            db,
            sa.select(sa.func.count()).where(col(BankAccount.payout_account_id) == account["id"]),
        )
        == 1
    )
