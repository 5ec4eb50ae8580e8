"""The Stripe adapter against the Stripe double: what it sends, how it recovers, how it maps
Stripe's errors and events (SPEC §3.9)."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from providers.base import (
    ProviderAuthError,
    ProviderError,
    ProviderInputError,
    WebhookIgnored,
    WebhookVerificationError,
)
from providers.stripe import StripeConfig, StripeProvider
from providers.stripe.client import API_VERSION
from providers.stripe.events import account_state
from tests.providers.test_provider_contract import account_request, bank, transfer_request
from tests.support.stripe_double import StripeDouble, sign
from tests.support.stripe_fixtures import stripe_provider


@pytest.fixture(scope="module")
def double() -> Iterator[StripeDouble]:
    with StripeDouble() as running:
        yield running


@pytest.fixture
def provider(double: StripeDouble) -> StripeProvider:
    return stripe_provider(double)


def signed(double: StripeDouble, event: dict[str, Any], **kw: Any) -> tuple[dict[str, str], bytes]:
    body = json.dumps(event).encode()
    timestamp = kw.get("timestamp") or int(time.time())
    header = sign(body, kw.get("secret") or double.webhook_secret, timestamp)
    return {"Stripe-Signature": header}, body


def requests_since(double: StripeDouble, start: int) -> list[dict[str, Any]]:
    return double.requests()[start:]


async def payable_account(provider: StripeProvider, double: StripeDouble) -> Any:
    account = await provider.create_account(account_request())
    double.review_account(account.id, "verified")
    return account


async def test_account_creation_sends_the_platform_controlled_account(
    provider: StripeProvider, double: StripeDouble
) -> None:
    start = len(double.requests())
    request = account_request()
    created = await provider.create_account(request)
    sent = requests_since(double, start)
    assert {r["stripe_version"] for r in sent} == {API_VERSION}
    create = next(r for r in sent if r["method"] == "POST" and r["path"] == "/v1/accounts")
    params = create["params"]
    assert params["controller"] == {
        "fees": {"payer": "application"},
        "losses": {"payments": "application"},
        "requirement_collection": "application",
        "stripe_dashboard": {"type": "none"},
    }
    assert params["capabilities"] == {"transfers": {"requested": True}}
    assert params["tos_acceptance"] == {
        "date": int(request.tos_accepted_at.timestamp()),  # type: ignore[union-attr]
        "ip": "203.0.113.7",
    }
    assert params["individual"]["dob"] == {"day": 10, "month": 12, "year": 1985}
    assert params["individual"]["id_number"] == "123456789"
    assert create["idempotency_key"].startswith(request.idempotency_key)
    # The document went to the Files API as the connected account, bytes unchanged, and was
    # attached to the individual.
    upload = next(r for r in sent if r["path"] == "/v1/files")
    assert upload["stripe_account"] == created.id
    assert request.document is not None
    content = request.document.content
    file = next(f for f in double.objects("file") if double.file_bytes(f["id"]) == content)
    assert file["purpose"] == "identity_document"
    account = next(a for a in double.objects("account") if a["id"] == created.id)
    assert account["individual"]["verification"]["document"]["front"] == file["id"]
    assert account["external_accounts"]["data"][0]["default_for_currency"] is True
    assert account["requirements"]["currently_due"] == []


async def test_a_company_gets_its_representative_with_the_document(
    provider: StripeProvider, double: StripeDouble
) -> None:
    company = {
        "name": "Analytical Engines Ltd",
        "tax_id": "123456789",
        "address": {"line1": "1 Main St", "city": "SF", "postal_code": "94105", "country": "US"},
        "representative": {"first_name": "Ada", "last_name": "Lovelace", "email": "a@e.com"},
    }
    request = replace(account_request(), business_type="company", individual=None, company=company)
    created = await provider.create_account(request)
    people = [p for p in double.objects("person") if p["account"] == created.id]
    representative = next(p for p in people if p["relationship"]["representative"])
    assert representative["first_name"] == "Ada"
    assert representative["verification"]["document"]["front"].startswith("file_")
    # Our company input has no representative date of birth: Stripe asks for it.
    account = next(a for a in double.objects("account") if a["id"] == created.id)
    assert account["requirements"]["currently_due"] == ["representative.dob.day"]
    assert created.status == "restricted"


async def test_merchant_input_refused_by_stripe_names_the_field(provider: StripeProvider) -> None:
    request = replace(account_request(), bank=replace(bank(), routing_number="12345"))
    with pytest.raises(ProviderInputError) as caught:
        await provider.create_account(request)
    assert caught.value.field == ("bank", "routing_number")


async def test_a_wrong_key_is_an_operator_error(
    double: StripeDouble, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = stripe_provider(double, api_key="sk_live_wrong_key_00000000")
    with caplog.at_level(logging.CRITICAL), pytest.raises(ProviderAuthError):
        await wrong.find_transfer("payout_x")
    assert "PAYOUTS_STRIPE_SECRET_KEY" in caplog.text
    assert "sk_live_wrong" not in caplog.text


async def test_outages_and_5xx_are_provider_errors(
    provider: StripeProvider, double: StripeDouble
) -> None:
    with double.down(), pytest.raises(ProviderError) as stopped:
        await provider.find_transfer("payout_x")
    assert not isinstance(stopped.value, ProviderInputError | ProviderAuthError)
    with double.down("503"), pytest.raises(ProviderError):
        await provider.find_transfer("payout_x")
    with double.down("429"), pytest.raises(ProviderError) as limited:
        await provider.find_transfer("payout_x")
    assert not isinstance(limited.value, ProviderInputError | ProviderAuthError)


async def test_a_payout_is_one_transfer_and_one_connected_payout(
    provider: StripeProvider, double: StripeDouble
) -> None:
    account = await payable_account(provider, double)
    request = transfer_request(account.id, account.external_account.id)
    start = len(double.requests())
    transfer = await provider.create_transfer(request)
    await provider.create_transfer(request)  # a retry replays
    sent = [r for r in requests_since(double, start) if r["method"] == "POST"]
    transfers = [t for t in double.objects("transfer") if t["id"] == transfer.id]
    payouts = [p for p in double.objects("payout") if p["metadata"].get("transfer") == transfer.id]
    assert len(transfers) == 1
    assert len(payouts) == 1
    assert transfers[0]["amount"] == request.amount
    assert transfers[0]["metadata"]["payout_id"] == request.metadata["payout_id"]
    assert transfers[0]["transfer_group"] == request.idempotency_key
    assert payouts[0]["metadata"]["payout_id"] == request.metadata["payout_id"]
    assert payouts[0]["destination"] == account.external_account.id
    payout_calls = [r for r in sent if r["path"] == "/v1/payouts"]
    assert {r["stripe_account"] for r in payout_calls} == {account.id}
    assert {r["idempotency_key"] for r in sent} == {
        f"{request.idempotency_key}:transfer",
        f"{request.idempotency_key}:payout",
    }


async def test_a_lost_answer_is_replayed_by_the_sdk_retry(double: StripeDouble) -> None:
    provider = stripe_provider(double, retries=2)
    account = await payable_account(provider, double)
    request = transfer_request(account.id, account.external_account.id)
    double.lose_next_answer("transfer")
    transfer = await provider.create_transfer(request)
    assert [
        t["id"]
        for t in double.objects("transfer")
        if t["transfer_group"] == request.idempotency_key
    ] == [transfer.id]


async def test_find_transfer_finishes_a_payout_the_crash_left_half_done(
    provider: StripeProvider, double: StripeDouble
) -> None:
    account = await payable_account(provider, double)
    request = transfer_request(account.id, account.external_account.id)
    double.lose_next_answer("payout")  # the transfer exists, the payout's answer is lost
    with pytest.raises(ProviderError):
        await provider.create_transfer(request)
    found = await provider.find_transfer(request.idempotency_key)
    assert found is not None
    transfers = [
        t for t in double.objects("transfer") if t["transfer_group"] == request.idempotency_key
    ]
    payouts = [p for p in double.objects("payout") if p["metadata"].get("transfer") == found.id]
    assert [t["id"] for t in transfers] == [found.id]
    assert len(payouts) == 1


async def test_cancel_stops_the_payout_and_brings_the_money_back(
    provider: StripeProvider, double: StripeDouble
) -> None:
    account = await payable_account(provider, double)
    before = double.state.platform_balance["usd"]
    transfer = await provider.create_transfer(
        transfer_request(account.id, account.external_account.id)
    )
    assert await provider.cancel_transfer(transfer.id) is True
    payout = next(p for p in double.objects("payout") if p["metadata"]["transfer"] == transfer.id)
    assert payout["status"] == "canceled"
    assert next(t for t in double.objects("transfer") if t["id"] == transfer.id)["reversed"]
    assert double.state.platform_balance["usd"] == before
    assert await provider.cancel_transfer(transfer.id) is True  # idempotent


async def test_a_payout_on_its_way_cannot_be_canceled(
    provider: StripeProvider, double: StripeDouble
) -> None:
    account = await payable_account(provider, double)
    transfer = await provider.create_transfer(
        transfer_request(account.id, account.external_account.id)
    )
    payout = next(p for p in double.objects("payout") if p["metadata"]["transfer"] == transfer.id)
    double.settle_payout(payout["id"], "in_transit")
    assert await provider.cancel_transfer(transfer.id) is False


async def test_payout_events_map_to_the_transfer_with_failure_codes(
    provider: StripeProvider, double: StripeDouble
) -> None:
    account = await payable_account(provider, double)
    transfer = await provider.create_transfer(
        transfer_request(account.id, account.external_account.id)
    )
    payout = next(p for p in double.objects("payout") if p["metadata"]["transfer"] == transfer.id)
    event = double.settle_payout(payout["id"], "failed", "account_closed")
    parsed = provider.parse_webhook(*signed(double, event))
    assert (parsed.object_kind, parsed.object_id, parsed.type) == (
        "transfer",
        transfer.id,
        "payout.failed",
    )
    assert parsed.data["status"] == "failed"
    assert parsed.data["failure_code"] == "account_closed"
    assert parsed.id == event["id"]


async def test_current_event_rereads_the_object_from_stripe(
    provider: StripeProvider, double: StripeDouble
) -> None:
    account = await payable_account(provider, double)
    transfer = await provider.create_transfer(
        transfer_request(account.id, account.external_account.id)
    )
    payout = next(p for p in double.objects("payout") if p["metadata"]["transfer"] == transfer.id)
    paid = double.settle_payout(payout["id"], "paid")
    double.settle_payout(payout["id"], "failed", "account_closed")  # a later bank return
    stale = provider.parse_webhook(*signed(double, paid))
    current = await provider.current_event(stale)
    assert current.data["status"] == "failed"
    assert current.data["failure_code"] == "account_closed"
    assert (current.id, current.type) == (stale.id, "payout.paid")
    with double.down():
        assert await provider.current_event(stale) == stale  # the snapshot, when Stripe is away


async def test_account_events_follow_the_spec_mapping(
    provider: StripeProvider, double: StripeDouble
) -> None:
    account = await provider.create_account(account_request())
    restricted = double.review_account(account.id, "requirements_due")
    assert provider.parse_webhook(*signed(double, restricted)).data["status"] == "restricted"
    verified = double.review_account(account.id, "verified")
    assert provider.parse_webhook(*signed(double, verified)).data == {
        "status": "verified",
        "transfers_enabled": True,
    }
    rejected = double.review_account(account.id, "rejected.terms_of_service")
    assert provider.parse_webhook(*signed(double, rejected)).data["status"] == "disabled"


@pytest.mark.parametrize(
    ("account", "expected"),
    [
        ({"requirements": {"disabled_reason": "rejected.fraud"}}, ("disabled", False)),
        (
            {
                "capabilities": {"transfers": "active"},
                "payouts_enabled": True,
                "requirements": {"currently_due": [], "past_due": []},
            },
            ("verified", True),
        ),
        (
            {
                "capabilities": {"transfers": "active"},
                "payouts_enabled": True,
                "requirements": {"currently_due": ["individual.id_number"]},
            },
            ("restricted", False),
        ),
        ({"requirements": {"disabled_reason": "requirements.past_due"}}, ("restricted", False)),
        ({"requirements": {"disabled_reason": "platform_paused"}}, ("restricted", False)),
        (
            {"requirements": {"disabled_reason": "requirements.pending_verification"}},
            ("pending_verification", False),
        ),
        ({"requirements": {"disabled_reason": "under_review"}}, ("pending_verification", False)),
    ],
)
def test_account_state_mapping(account: dict[str, Any], expected: tuple[str, bool]) -> None:
    assert account_state(account) == expected


def test_signatures_wrong_secret_stale_or_missing_are_refused(double: StripeDouble) -> None:
    provider = stripe_provider(double)
    event = {
        "id": "evt_x",
        "object": "event",
        "type": "account.updated",
        "created": int(time.time()),
        "livemode": False,
        "account": "acct_x",
        "data": {"object": {"id": "acct_x", "object": "account"}},
    }
    with pytest.raises(WebhookVerificationError):
        provider.parse_webhook(*signed(double, event, secret="whsec_wrong"))
    with pytest.raises(WebhookVerificationError):
        provider.parse_webhook(*signed(double, event, timestamp=int(time.time()) - 301))
    with pytest.raises(WebhookVerificationError):
        provider.parse_webhook({}, json.dumps(event).encode())
    assert provider.parse_webhook(*signed(double, event)).object_id == "acct_x"


def test_any_configured_endpoint_secret_is_accepted(double: StripeDouble) -> None:
    config = StripeConfig(
        secret_key=double.api_key,
        webhook_secrets=("whsec_connect_endpoint", double.webhook_secret),
        api_base=double.url,
    )
    provider = StripeProvider(config)
    event = {
        "id": f"evt_{uuid.uuid4().hex}",
        "type": "transfer.reversed",
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": {"id": "tr_1", "object": "transfer", "reversed": True}},
    }
    parsed = provider.parse_webhook(*signed(double, event))
    assert parsed.data["failure_code"] == "transfer_reversed"


def test_events_the_server_has_no_use_for_are_ignored(double: StripeDouble) -> None:
    provider = stripe_provider(double)
    for event in (
        {"type": "charge.succeeded", "data": {"object": {"id": "ch_1"}}},
        {
            "type": "payout.paid",
            "account": "acct_1",
            "data": {"object": {"id": "po_1", "status": "paid", "metadata": {}}},
        },
    ):
        full = {"id": "evt_i", "created": int(time.time()), "livemode": False, **event}
        with pytest.raises(WebhookIgnored):
            provider.parse_webhook(*signed(double, full))


async def test_a_failed_payout_brings_the_money_back_to_the_platform_before_it_applies(
    provider: StripeProvider, double: StripeDouble
) -> None:
    account = await payable_account(provider, double)
    before = double.state.platform_balance["usd"]
    transfer = await provider.create_transfer(
        transfer_request(account.id, account.external_account.id)
    )
    payout = next(p for p in double.objects("payout") if p["metadata"]["transfer"] == transfer.id)
    failed = provider.parse_webhook(
        *signed(double, double.settle_payout(payout["id"], "failed", "no_account"))
    )
    with double.down(), pytest.raises(ProviderError):
        await provider.current_event(failed)  # not applicable yet: Stripe will redeliver
    current = await provider.current_event(failed)
    assert current.data["status"] == "failed"
    assert double.state.platform_balance["usd"] == before
    reversed_transfer = next(t for t in double.objects("transfer") if t["id"] == transfer.id)
    assert reversed_transfer["reversed"] is True
    await provider.current_event(failed)  # a redelivery reverses nothing twice
    assert (
        len(
            next(t for t in double.objects("transfer") if t["id"] == transfer.id)["reversals"][
                "data"
            ]
        )
        == 1
    )
    # Our own reversal's event changes nothing; an operator's reversal fails the payout.
    ours = next(e for e in reversed(double.state.events) if e["type"] == "transfer.reversed")
    with pytest.raises(WebhookIgnored):
        provider.parse_webhook(*signed(double, ours))
    operator = json.loads(json.dumps(ours))
    operator["id"] = "evt_operator"
    operator["data"]["object"]["reversals"]["data"][0]["metadata"] = {}
    assert provider.parse_webhook(*signed(double, operator)).data["status"] == "failed"
