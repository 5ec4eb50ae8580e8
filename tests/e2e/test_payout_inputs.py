"""Every bad requestPayout gets its error code, and changes nothing (balance, ledger and
payouts compared before and after)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from models import BankAccount, PayoutAccount, PayoutAccountStatus
from services.infra.database import Database
from tests.support.graphql import GraphQLClient, error_codes
from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg
from tests.support.payout_setup import insert_verified_payout_account
from tests.support.payouts import REQUEST, balance, credit, ledger_entries

pytestmark = pytest.mark.e2e

PAYOUTS = "{ payouts(first: 100) { edges { node { id } } } }"


async def snapshot(client: GraphQLClient, db: Database, org: TestOrg) -> tuple[Any, ...]:
    return (
        await balance(client),
        await ledger_entries(db, org.id),
        await client.data(PAYOUTS),
    )


async def no_setup(db: Database, org: TestOrg) -> None:
    return None


async def verified(db: Database, org: TestOrg) -> None:
    await insert_verified_payout_account(db, org.id)


async def unverified(db: Database, org: TestOrg) -> None:
    account = await insert_verified_payout_account(db, org.id)
    async with db.transaction() as session:
        await session.execute(
            sa.update(PayoutAccount)
            .where(col(PayoutAccount.id) == account.payout_account_id)
            .values(status=PayoutAccountStatus.PENDING_VERIFICATION, transfers_enabled=False)
        )


async def no_default_bank(db: Database, org: TestOrg) -> None:
    account = await insert_verified_payout_account(db, org.id)
    async with db.transaction() as session:
        await session.execute(
            sa.update(BankAccount)
            .where(col(BankAccount.id) == account.bank_account_id)
            .values(is_default=False)
        )


Setup = Callable[[Database, TestOrg], Awaitable[None]]


@pytest.mark.parametrize(
    ("setup", "payout_input", "code", "field"),
    [
        (verified, {"amount": 999}, "VALIDATION_ERROR", ["input", "amount"]),
        (verified, {"amount": 0}, "VALIDATION_ERROR", ["input", "amount"]),
        (verified, {"amount": -5000}, "VALIDATION_ERROR", ["input", "amount"]),
        (
            verified,
            {"amount": 1000, "description": "x" * 501},
            "VALIDATION_ERROR",
            ["input", "description"],
        ),
        (no_setup, {"amount": 1000}, "PAYOUT_ACCOUNT_REQUIRED", None),
        (unverified, {"amount": 1000}, "PAYOUT_ACCOUNT_NOT_VERIFIED", None),
        (no_default_bank, {"amount": 1000}, "NO_DEFAULT_BANK_ACCOUNT", None),
        (verified, {"amount": 5001}, "INSUFFICIENT_BALANCE", ["input", "amount"]),
    ],
)
async def test_bad_request_payout_returns_user_error_and_changes_nothing(
    server: LiveServer,
    db: Database,
    org: TestOrg,
    setup: Setup,
    payout_input: dict[str, Any],
    code: str,
    field: list[str] | None,
) -> None:
    await setup(db, org)
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        await credit(client, 5_000)
        before = await snapshot(client, db, org)
        data = await client.data(REQUEST, {"input": payout_input})
        after = await snapshot(client, db, org)
    errors = data["requestPayout"]["userErrors"]
    assert data["requestPayout"]["payout"] is None
    assert [e["code"] for e in errors] == [code]
    assert errors[0]["field"] == field
    assert after == before


@pytest.mark.parametrize("amount", [1000.5, 1000.0, "1000", 2**53, None])
async def test_non_integer_or_unsafe_amount_is_rejected_and_changes_nothing(
    server: LiveServer, db: Database, org: TestOrg, amount: object
) -> None:
    await insert_verified_payout_account(db, org.id)
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        await credit(client, 5_000)
        before = await snapshot(client, db, org)
        result = await client.execute(REQUEST, {"input": {"amount": amount}})
        after = await snapshot(client, db, org)
    assert result.get("data") is None
    assert error_codes(result) == ["BAD_USER_INPUT"]
    assert after == before


async def test_float_literal_amount_is_rejected(server: LiveServer, org: TestOrg) -> None:
    query = "mutation { requestPayout(input: {amount: 1000.5}) { userErrors { code } } }"
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        result = await client.execute(query)
    assert error_codes(result) == ["BAD_USER_INPUT"]


async def test_live_mode_payout_is_provider_not_configured(
    server: LiveServer, db: Database, org: TestOrg
) -> None:
    await insert_verified_payout_account(db, org.id, livemode=True)
    async with GraphQLClient(server.graphql_url, org.live_key) as client:
        before = await balance(client), await ledger_entries(db, org.id)
        data = await client.data(REQUEST, {"input": {"amount": 1000}})
        after = await balance(client), await ledger_entries(db, org.id)
    assert [e["code"] for e in data["requestPayout"]["userErrors"]] == ["PROVIDER_NOT_CONFIGURED"]
    assert after == before


async def test_credit_in_live_mode_is_test_mode_only(server: LiveServer, org: TestOrg) -> None:
    query = """mutation { testCreditBalance(input: {amount: 1000}) {
        balance { available } userErrors { code } } }"""
    async with GraphQLClient(server.graphql_url, org.live_key) as client:
        data = await client.data(query)
    assert data["testCreditBalance"] == {
        "balance": None,
        "userErrors": [{"code": "TEST_MODE_ONLY"}],
    }
