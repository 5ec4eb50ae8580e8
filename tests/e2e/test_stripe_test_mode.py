"""``PAYOUTS_TEST_PROVIDER=stripe``: test mode runs on Stripe test keys (here: the Stripe double
with an ``sk_test_`` key) instead of the sandbox, through the same adapter and webhook route."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.conftest import migrated_database
from tests.support.accounts import COMPLETE_VERIFICATION, individual_input
from tests.support.graphql import GraphQLClient
from tests.support.payouts import credit, request_payout, wait_for_payout, wait_for_status
from tests.support.stripe_e2e import (
    DOCUMENT_URL,
    StripeStack,
    new_org,
    stripe_account_of,
    stripe_money_for,
    stripe_stack,
    wait_for_account,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def test_mode_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with migrated_database(tmp_path_factory.mktemp("stripe-test-db")) as url:
        yield url


@pytest.fixture(scope="module")
async def stack(
    test_mode_database: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[StripeStack]:
    async with stripe_stack(
        test_mode_database,
        tmp_path_factory.mktemp("stripe-test-mode"),
        api_key="sk_test_double_e2e_0123456789",
        test_provider=True,
    ) as running:
        yield running


async def test_test_keys_run_on_stripe_test_mode(stack: StripeStack) -> None:
    org = await new_org(stack.db)
    async with GraphQLClient(stack.server.graphql_url, org.test_key) as client:
        input = individual_input(document_url=DOCUMENT_URL)
        result = (await client.data(COMPLETE_VERIFICATION, {"input": input}))[
            "completeVerification"
        ]
        assert result["userErrors"] == [], result
        account = result["payoutAccount"]
        assert account["livemode"] is False
        bank = account["defaultBankAccount"]
        stripe_account = stripe_account_of(stack.double, bank["providerExternalAccountId"])
        stack.double.review_account(stripe_account["id"], "verified")
        await wait_for_account(client, "VERIFIED")
        await credit(client, 5_000)
        payout_id = (await request_payout(client, 2_000))["payout"]["id"]
        await wait_for_payout(client, payout_id, lambda p: p["providerTransferId"] is not None)
        _, payouts = stripe_money_for(stack.double, payout_id)
        assert [p["livemode"] for p in payouts] == [False]
        stack.double.settle_payout(payouts[0]["id"], "paid")
        await wait_for_status(client, payout_id, "PAID")
    async with GraphQLClient(stack.server.graphql_url, org.live_key) as live:
        refused = (await live.data(COMPLETE_VERIFICATION, {"input": input}))["completeVerification"]
        assert [e["code"] for e in refused["userErrors"]] == ["PROVIDER_NOT_CONFIGURED"]
