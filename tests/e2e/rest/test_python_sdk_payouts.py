"""The official Python SDK (commet-sdk) against /api/v1: every method of ``payouts``, success
and error paths, typed results and typed exceptions, idempotent retries."""

from __future__ import annotations

import uuid
from typing import Any, cast

import pytest
from commet import CommetAPIError, CommetValidationError
from commet.types import Payout, PayoutBankAccount

from services.infra.database import Database
from tests.conftest import make_org
from tests.support.accounts import wait_for_account_status
from tests.support.graphql import GraphQLClient
from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg
from tests.support.payout_setup import verify_through_api
from tests.support.payouts import balance, credit, payout, wait_for_status
from tests.support.rest import RestClient, kyc_body, python_sdk

pytestmark = pytest.mark.e2e


async def _funded(server: LiveServer, org: TestOrg, amount: int) -> None:
    await verify_through_api(server, org)
    async with GraphQLClient(server.graphql_url, org.test_key) as gql:
        await credit(gql, amount)


async def test_request_returns_a_typed_payout_that_graphql_shows_and_settles(
    server: LiveServer, org: TestOrg
) -> None:
    await _funded(server, org, 50_000)
    async with python_sdk(server, org.test_key) as sdk:
        created = await sdk.payouts.request(amount=20_000, description="October")
    assert isinstance(created, Payout)
    assert created.id.startswith("po_")
    assert (created.status, created.amount, created.fee, created.net_amount) == (
        "pending",
        20_000,
        0,
        20_000,
    )
    assert (created.currency, created.description, created.object, created.livemode) == (
        "usd",
        "October",
        "payout",
        False,
    )
    assert created.created_at.endswith("Z")
    async with GraphQLClient(server.graphql_url, org.test_key) as gql:
        seen = await payout(gql, created.id)
        assert seen["amount"] == 20_000 and seen["description"] == "October"
        await wait_for_status(gql, created.id, "PAID")
        assert (await balance(gql))["available"] == 30_000


async def test_request_errors_are_typed(server: LiveServer, db: Database) -> None:
    unverified = await make_org(db, "No account")
    async with python_sdk(server, unverified.test_key) as sdk:
        with pytest.raises(CommetValidationError) as small:
            await sdk.payouts.request(amount=999, description="x" * 501)
        with pytest.raises(CommetAPIError) as no_account:
            await sdk.payouts.request(amount=5_000)
    assert small.value.status_code == 422
    assert set(small.value.validation_errors) == {"amount", "description"}
    assert small.value.request_id is not None and small.value.request_id.startswith("req_")
    assert (no_account.value.status_code, no_account.value.code, no_account.value.type) == (
        409,
        "payout_account_required",
        "conflict_error",
    )
    assert not isinstance(no_account.value, CommetValidationError)


async def test_request_over_the_available_balance_is_refused_and_changes_nothing(
    server: LiveServer, org: TestOrg
) -> None:
    await _funded(server, org, 5_000)
    async with python_sdk(server, org.test_key) as sdk:
        with pytest.raises(CommetAPIError) as refused:
            await sdk.payouts.request(amount=5_001)
    assert (refused.value.status_code, refused.value.code, refused.value.type) == (
        400,
        "insufficient_balance",
        "billing_error",
    )
    async with GraphQLClient(server.graphql_url, org.test_key) as gql:
        assert (await balance(gql))["available"] == 5_000


async def test_retries_with_one_idempotency_key_make_one_payout(
    server: LiveServer, org: TestOrg
) -> None:
    await _funded(server, org, 30_000)
    key = f"retry-{uuid.uuid4()}"
    async with python_sdk(server, org.test_key) as sdk:
        first = await sdk.payouts.request(amount=10_000, idempotency_key=key)
        again = await sdk.payouts.request(amount=10_000, idempotency_key=key)
        with pytest.raises(CommetAPIError) as mismatch:
            await sdk.payouts.request(amount=12_000, idempotency_key=key)
    assert again.id == first.id and again.amount == 10_000
    assert (mismatch.value.status_code, mismatch.value.code) == (409, "idempotency_key_mismatch")
    async with GraphQLClient(server.graphql_url, org.test_key) as gql:
        money = await balance(gql)
    assert money["available"] + money["inTransit"] + money["paidOut"] == 30_000
    assert money["available"] == 20_000


async def test_sdk_retries_carry_its_own_idempotency_key(server: LiveServer, org: TestOrg) -> None:
    """With retries on, the SDK sends an ``Idempotency-Key`` of its own on every write."""
    await _funded(server, org, 20_000)
    async with python_sdk(server, org.test_key, retries=2) as sdk:
        created = await sdk.payouts.request(amount=10_000)
    assert created.status == "pending"
    async with GraphQLClient(server.graphql_url, org.test_key) as gql:
        assert (await balance(gql))["available"] == 10_000


async def test_add_bank_account_returns_a_typed_account(server: LiveServer, org: TestOrg) -> None:
    await verify_through_api(server, org)
    async with python_sdk(server, org.test_key) as sdk:
        added = await sdk.payouts.add_bank_account(
            account_number="000987654321",
            account_holder_name="Ada Lovelace",
            routing_number="110000000",
            account_type="savings",
        )
        default = await sdk.payouts.add_bank_account(
            account_number="000555554444", account_holder_name="Ada Lovelace", set_default=True
        )
        with pytest.raises(CommetAPIError) as duplicate:
            await sdk.payouts.add_bank_account(
                account_number="000987654321",
                account_holder_name="Ada Lovelace",
                routing_number="110000000",
            )
        with pytest.raises(CommetValidationError) as invalid:
            await sdk.payouts.add_bank_account(
                account_number="12",
                account_holder_name="Ada",
                account_type="wire",  # type: ignore[arg-type]  # what the server must refuse
            )
    assert isinstance(added, PayoutBankAccount)
    assert (added.last4, added.account_type, added.is_default, added.status) == (
        "4321",
        "savings",
        False,
        "active",
    )
    assert (added.holder_name, added.country, added.currency, added.object) == (
        "Ada Lovelace",
        "US",
        "usd",
        "payout_bank_account",
    )
    assert added.id.startswith("ba_") and added.provider_external_account_id
    assert default.is_default is True and default.account_type is None
    assert (duplicate.value.status_code, duplicate.value.code) == (409, "duplicate")
    assert set(invalid.value.validation_errors) == {"accountType"}


async def test_add_bank_account_needs_a_payout_account(server: LiveServer, org: TestOrg) -> None:
    async with python_sdk(server, org.test_key) as sdk:
        with pytest.raises(CommetAPIError) as refused:
            await sdk.payouts.add_bank_account(
                account_number="000987654321", account_holder_name="Ada"
            )
    assert (refused.value.status_code, refused.value.code) == (409, "payout_account_required")


async def test_complete_verification_without_kyc_data(server: LiveServer, org: TestOrg) -> None:
    """SDK 9.x sends no body: without an account that is a validation error naming every
    required field; with one, the existing account is returned."""
    async with python_sdk(server, org.test_key) as sdk:
        with pytest.raises(CommetValidationError) as missing:
            await sdk.payouts.complete_verification()
        assert set(missing.value.validation_errors) == {
            "email",
            "businessType",
            "businessUrl",
            "documentUrl",
            "bank",
        }
        async with RestClient(server, org.test_key) as rest:
            created = await rest.request("POST", "/payouts/verification", json=kyc_body())
        assert created.status_code == 200, created.text
        assert created.json()["data"]["outcome"] == "created"
        async with GraphQLClient(server.graphql_url, org.test_key) as gql:
            await wait_for_account_status(gql, "VERIFIED")
        # Typed `None` (the platform's deprecated call); our server answers with the account.
        existing = cast(dict[str, Any], await sdk.payouts.complete_verification())
    assert existing["outcome"] == "existing"
    assert existing["status"] == "verified" and existing["transfers_enabled"] is True
    assert existing["object"] == "payout_account"
    assert "business_type" not in existing and "already_exists" not in existing


async def test_live_mode_without_a_live_provider(server: LiveServer, org: TestOrg) -> None:
    async with python_sdk(server, org.live_key) as sdk:
        with pytest.raises(CommetAPIError) as payout_refused:
            await sdk.payouts.request(amount=5_000)
    async with RestClient(server, org.live_key) as rest:
        verification = await rest.request("POST", "/payouts/verification", json=kyc_body())
    assert (payout_refused.value.status_code, payout_refused.value.code) == (
        409,
        "provider_not_configured",
    )
    assert verification.status_code == 409
    assert verification.json()["error"]["code"] == "provider_not_configured"
