"""The Stripe double, driven with the official stripe SDK: it must speak Stripe's wire format
as the API reference documents it, or it cannot catch the adapter's mistakes."""

from __future__ import annotations

import http.server
import io
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import stripe

from tests.support.stripe_double import StripeDouble, sign
from tests.support.stripe_fixtures import BANK, individual_account_params, sdk_client


@pytest.fixture(scope="module")
def double() -> Iterator[StripeDouble]:
    with StripeDouble() as running:
        yield running


@pytest.fixture
def client(double: StripeDouble) -> Any:
    return sdk_client(double)


async def verified_account(client: Any, double: StripeDouble) -> tuple[str, str]:
    account = await client.v1.accounts.create_async(individual_account_params())
    bank = await client.v1.accounts.external_accounts.create_async(
        account.id, {"external_account": BANK}
    )
    double.review_account(account.id, "verified")
    return account.id, bank.id


async def test_unknown_parameters_are_refused_naming_the_full_bracketed_name(
    client: Any,
) -> None:
    params = individual_account_params()
    params["individual"]["dob"]["yaer"] = 1985
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.accounts.create_async(params)
    assert caught.value.code == "parameter_unknown"
    assert caught.value.param == "individual[dob][yaer]"
    assert caught.value.http_status == 400
    error: Any = caught.value.json_body
    body = error["error"]
    assert body["type"] == "invalid_request_error"
    assert "individual[dob][yaer]" in body["message"]


async def test_missing_required_and_bad_types_are_refused(
    client: Any, double: StripeDouble
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        await client.v1.transfers.create_async({"amount": 100, "currency": "usd"})
    assert (missing.value.code, missing.value.param) == ("parameter_missing", "destination")
    with pytest.raises(stripe.InvalidRequestError) as bad_int:
        await client.v1.transfers.create_async(
            {"amount": "ten", "currency": "usd", "destination": "acct_x"}
        )
    assert bad_int.value.code == "parameter_invalid_integer"
    with pytest.raises(stripe.InvalidRequestError) as bad_enum:
        await client.v1.accounts.create_async({"business_type": "person"})
    assert bad_enum.value.param == "business_type"


async def test_controller_rules_of_the_reference(client: Any) -> None:
    params = individual_account_params()
    params["controller"] = {**params["controller"], "losses": {"payments": "stripe"}}
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.accounts.create_async(params)
    assert caught.value.param == "controller[requirement_collection]"
    no_capabilities = individual_account_params()
    del no_capabilities["capabilities"]
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.accounts.create_async(no_capabilities)
    assert caught.value.param == "capabilities"


async def test_idempotency_replays_the_first_answer_and_refuses_other_parameters(
    client: Any, double: StripeDouble
) -> None:
    first = await client.v1.accounts.create_async(
        individual_account_params(), {"idempotency_key": "idem-account-1"}
    )
    again = await client.v1.accounts.create_async(
        individual_account_params(), {"idempotency_key": "idem-account-1"}
    )
    assert again.id == first.id
    assert again.last_response.headers["idempotent-replayed"] == "true"
    with pytest.raises(stripe.IdempotencyError) as caught:
        await client.v1.accounts.create_async(
            individual_account_params(email="other@example.com"),
            {"idempotency_key": "idem-account-1"},
        )
    body: Any = caught.value.json_body
    assert body["error"]["type"] == "idempotency_error"
    accounts = [a for a in double.objects("account") if a["id"] == first.id]
    assert len(accounts) == 1


async def test_errors_after_execution_are_replayed_but_validation_errors_are_not(
    client: Any,
) -> None:
    params = {"amount": 100, "currency": "usd", "destination": "acct_missing"}
    for _ in range(2):
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.transfers.create_async(params, {"idempotency_key": "idem-missing"})
        assert caught.value.code == "account_invalid"
    # A validation failure saves nothing: the same key then works with valid parameters.
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.accounts.create_async(
            {"country": "US", "nope": "1"},
            {"idempotency_key": "idem-invalid"},
        )
    created = await client.v1.accounts.create_async(
        individual_account_params(), {"idempotency_key": "idem-invalid"}
    )
    assert created.id.startswith("acct_")


async def test_files_are_multipart_and_keep_their_bytes(client: Any, double: StripeDouble) -> None:
    account = await client.v1.accounts.create_async(individual_account_params())
    content = b"%PDF-1.7\n" + bytes(range(256)) * 40
    upload = io.BytesIO(content)
    upload.name = "passport.pdf"
    file = await client.v1.files.create_async(
        {"purpose": "identity_document", "file": upload}, {"stripe_account": account.id}
    )
    assert (file.purpose, file.type, file.size) == ("identity_document", "pdf", len(content))
    assert double.file_bytes(file.id) == content
    updated = await client.v1.accounts.update_async(
        account.id, {"individual": {"verification": {"document": {"front": file.id}}}}
    )
    assert updated.individual.verification.document.front == file.id
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.files.create_async(
            {"purpose": "identity_document", "file": io.BytesIO(b"plain text")},
            {"stripe_account": account.id},
        )
    assert caught.value.param == "file"


async def test_requirements_follow_what_the_account_holds(
    client: Any, double: StripeDouble
) -> None:
    account = await client.v1.accounts.create_async(individual_account_params())
    assert "individual.verification.document" in account.requirements.currently_due
    assert "external_account" in account.requirements.currently_due
    assert account.capabilities.transfers == "inactive"
    double.review_account(account.id, "requirements_due", due=["individual.id_number"])
    restricted = await client.v1.accounts.retrieve_async(account.id)
    assert restricted.requirements.disabled_reason == "requirements.past_due"
    double.review_account(account.id, "rejected.fraud")
    rejected = await client.v1.accounts.retrieve_async(account.id)
    assert rejected.requirements.disabled_reason == "rejected.fraud"
    assert rejected.payouts_enabled is False


async def test_external_accounts_default_for_currency_and_lists(
    client: Any, double: StripeDouble
) -> None:
    account = await client.v1.accounts.create_async(individual_account_params())
    first = await client.v1.accounts.external_accounts.create_async(
        account.id, {"external_account": BANK}
    )
    assert first.default_for_currency is True  # the first for its currency
    assert first.bank_name == "STRIPE TEST BANK"
    second = await client.v1.accounts.external_accounts.create_async(
        account.id,
        {
            "external_account": {**BANK, "account_number": "000111111116"},
            "default_for_currency": True,
        },
    )
    listed = await client.v1.accounts.external_accounts.list_async(
        account.id, {"object": "bank_account", "limit": 1}
    )
    assert listed.object == "list"
    assert listed.has_more is True
    assert [b.id for b in listed.data] == [second.id]
    refreshed = await client.v1.accounts.external_accounts.retrieve_async(account.id, first.id)
    assert refreshed.default_for_currency is False
    with pytest.raises(stripe.InvalidRequestError) as duplicate:
        await client.v1.accounts.external_accounts.create_async(
            account.id, {"external_account": BANK}
        )
    assert duplicate.value.code == "bank_account_exists"
    with pytest.raises(stripe.InvalidRequestError) as routing:
        await client.v1.accounts.external_accounts.create_async(
            account.id,
            {"external_account": {**BANK, "account_number": "000999", "routing_number": "12"}},
        )
    assert routing.value.param == "external_account[routing_number]"
    with pytest.raises(stripe.InvalidRequestError) as checksum:
        await client.v1.accounts.external_accounts.create_async(
            account.id,
            {
                "external_account": {
                    **BANK,
                    "account_number": "000999",
                    "routing_number": "123456789",
                }
            },
        )
    assert checksum.value.code == "routing_number_invalid"


async def test_transfers_payouts_and_balances(client: Any, double: StripeDouble) -> None:
    account_id, bank_id = await verified_account(client, double)
    transfer = await client.v1.transfers.create_async(
        {
            "amount": 5000,
            "currency": "usd",
            "destination": account_id,
            "transfer_group": "group-1",
            "metadata": {"payout_id": "po_ours"},
        }
    )
    other = await client.v1.transfers.create_async(
        {"amount": 100, "currency": "usd", "destination": account_id}
    )
    grouped = await client.v1.transfers.list_async({"transfer_group": "group-1"})
    assert [t.id for t in grouped.data] == [transfer.id]
    by_destination = await client.v1.transfers.list_async(
        {"destination": account_id, "created": {"gte": int(time.time()) - 60}, "limit": 1}
    )
    assert [t.id for t in by_destination.data] == [other.id]
    assert transfer.metadata["payout_id"] == "po_ours"
    balance = await client.v1.balance.retrieve_async(options={"stripe_account": account_id})
    assert balance.available[0].amount == 5100
    with pytest.raises(stripe.InvalidRequestError) as no_header:
        await client.v1.payouts.create_async({"amount": 100, "currency": "usd"})
    assert no_header.value.param == "stripe_account"
    payout = await client.v1.payouts.create_async(
        {"amount": 5000, "currency": "usd", "destination": bank_id},
        {"stripe_account": account_id},
    )
    assert (payout.status, payout.destination) == ("pending", bank_id)
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        await client.v1.payouts.create_async(
            {"amount": 5000, "currency": "usd"}, {"stripe_account": account_id}
        )
    assert too_much.value.code == "balance_insufficient"
    canceled = await client.v1.payouts.cancel_async(
        payout.id, options={"stripe_account": account_id}
    )
    assert canceled.status == "canceled"
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.payouts.cancel_async(payout.id, options={"stripe_account": account_id})
    reversal = await client.v1.transfers.reversals.create_async(transfer.id)
    assert reversal.amount == 5000
    reversed_transfer = await client.v1.transfers.retrieve_async(transfer.id)
    assert reversed_transfer.reversed is True


async def test_a_transfer_needs_an_active_transfers_capability(client: Any) -> None:
    account = await client.v1.accounts.create_async(individual_account_params())
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.transfers.create_async(
            {"amount": 100, "currency": "usd", "destination": account.id}
        )
    assert caught.value.code == "insufficient_capabilities_for_transfer"


async def test_authentication_and_unknown_routes(double: StripeDouble) -> None:
    wrong = sdk_client(double, api_key="sk_test_not_the_right_key_000")
    with pytest.raises(stripe.AuthenticationError):
        await wrong.v1.balance.retrieve_async()
    response = httpx.get(f"{double.url}/v1/nothing", headers={"Authorization": "Bearer x"})
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"


async def test_outages_look_like_stripe_being_down(client: Any, double: StripeDouble) -> None:
    with double.down("503"), pytest.raises(stripe.APIError) as caught:
        await client.v1.balance.retrieve_async()
    assert caught.value.http_status == 503
    with double.down("429"), pytest.raises(stripe.RateLimitError):
        await client.v1.balance.retrieve_async()
    with double.down(), pytest.raises(stripe.APIConnectionError):
        await client.v1.balance.retrieve_async()
    balance = await client.v1.balance.retrieve_async()  # back, with its objects
    assert balance.object == "balance"


async def test_events_are_signed_as_stripe_signs_them(double: StripeDouble) -> None:
    payload = json.dumps({"id": "evt_1", "object": "event", "type": "payout.paid"}).encode()
    header = sign(payload, double.webhook_secret, int(time.time()))
    event = stripe.Webhook.construct_event(payload, header, double.webhook_secret, tolerance=300)
    assert event.id == "evt_1"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, header, "whsec_other", tolerance=300)
    stale = sign(payload, double.webhook_secret, int(time.time()) - 301)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, stale, double.webhook_secret, tolerance=300)


async def test_account_changes_emit_connect_events(client: Any, double: StripeDouble) -> None:
    account_id, _ = await verified_account(client, double)
    events = [e for e in double.state.events if e.get("account") == account_id]
    assert events[-1]["type"] == "account.updated"
    assert events[-1]["data"]["object"]["capabilities"]["transfers"] == "active"
    assert "capabilities" in events[-1]["data"]["previous_attributes"]
    fetched = await client.v1.events.retrieve_async(events[-1]["id"])
    assert fetched.type == "account.updated"


async def test_events_reach_the_webhook_url_signed_and_retried_until_accepted() -> None:
    received: list[tuple[bytes, str]] = []
    answers = iter([500, 200, 200])

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, self.headers["Stripe-Signature"]))
            self.send_response(next(answers))
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/stripe"
    try:
        with StripeDouble(webhook_url=url) as double:
            client = sdk_client(double)
            account = await client.v1.accounts.create_async(individual_account_params())
            await client.v1.accounts.update_async(account.id, {"metadata": {"a": "b"}})
            double.wait_delivered()
    finally:
        server.shutdown()
    assert len(received) == 2  # a 500 is retried; the 200 ends it
    body, header = received[-1]
    event = stripe.Webhook.construct_event(body, header, double.webhook_secret, tolerance=300)
    assert (event.type, event.account) == ("account.updated", account.id)
    assert event.data.object.id == account.id
