"""One contract for every PayoutProvider: the sandbox and the Stripe adapter (against the
Stripe double) must answer the services the same way."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from api.settings import Settings
from models.base import utcnow
from providers.base import (
    AccountRequest,
    BankDetails,
    Document,
    PayoutProvider,
    ProviderError,
    TransferRequest,
    WebhookVerificationError,
)
from providers.sandbox import SandboxConfig, SandboxProvider
from services.infra.database import Database
from tests.support.stripe_double import StripeDouble, sign
from tests.support.stripe_fixtures import stripe_provider
from tests.support.webhooks import sandbox_event, signed

PDF = b"%PDF-1.4\n% identity document\n" + bytes(range(200))


@dataclass
class Harness:
    name: str
    provider: PayoutProvider
    double: StripeDouble | None = None

    async def make_payable(self, account_id: str) -> None:
        if self.double is not None:
            self.double.review_account(account_id, "verified")

    def account_event(self, account_id: str) -> tuple[dict[str, str], bytes]:
        if self.double is None:
            payload = sandbox_event(
                "account.updated",
                {"id": account_id, "object": "account", "status": "verified"}
                | {"transfers_enabled": True},
            )
            body, headers = signed(payload)
            return headers, body
        event = self.double.review_account(account_id, "verified")
        return self._stripe_signed(event)

    def paid_event(self, transfer_id: str) -> tuple[dict[str, str], bytes]:
        if self.double is None:
            payload = sandbox_event(
                "transfer.updated", {"id": transfer_id, "object": "transfer", "status": "paid"}
            )
            body, headers = signed(payload)
            return headers, body
        payout = next(
            p for p in self.double.objects("payout") if p["metadata"]["transfer"] == transfer_id
        )
        event = self.double.settle_payout(payout["id"], "paid")
        return self._stripe_signed(event)

    def _stripe_signed(self, event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
        assert self.double is not None
        body = json.dumps(event).encode()
        header = sign(body, self.double.webhook_secret, int(time.time()))
        return {"Stripe-Signature": header, "Content-Type": "application/json"}, body


@pytest.fixture(scope="module")
def double() -> Iterator[StripeDouble]:
    with StripeDouble() as running:
        yield running


@pytest.fixture(params=["sandbox", "stripe"])
async def harness(
    request: pytest.FixtureRequest, db: Database, double: StripeDouble
) -> AsyncIterator[Harness]:
    if request.param == "sandbox":
        config = SandboxConfig(
            webhook_url="http://127.0.0.1:9/webhooks/sandbox",  # never delivered here
            webhook_secret=Settings().sandbox_webhook_secret,
            delay_seconds=3600,
        )
        yield Harness("sandbox", SandboxProvider(db, config, is_postgres=not db.is_sqlite))
        return
    yield Harness("stripe", stripe_provider(double), double)


def bank(number: str = "000123456789") -> BankDetails:
    return BankDetails(number, "Ada Lovelace", "110000000", "checking", "US", "usd")


def account_request(key: str | None = None) -> AccountRequest:
    return AccountRequest(
        idempotency_key=key or f"payout-account:{uuid.uuid4().hex}:live",
        livemode=False,
        email="ada@example.com",
        business_type="individual",
        business_url="https://ada.example.com",
        country="US",
        bank=bank(),
        document=Document(PDF, "application/pdf", hashlib.sha256(PDF).hexdigest()),
        tos_accepted_at=utcnow(),
        tos_ip="203.0.113.7",
        individual={
            "first_name": "Ada",
            "last_name": "Lovelace",
            "phone": "+14155550100",
            "date_of_birth": "1985-12-10",
            "id_number": "123456789",
            "address": {
                "line1": "1 Main St",
                "city": "San Francisco",
                "state": "CA",
                "postal_code": "94105",
                "country": "US",
            },
        },
    )


def transfer_request(account_id: str, external_id: str, key: str | None = None) -> TransferRequest:
    payout_id = uuid.uuid4().hex
    return TransferRequest(
        idempotency_key=key or f"payout_{payout_id}",
        livemode=False,
        account_id=account_id,
        external_account_id=external_id,
        amount=2500,
        currency="usd",
        description="March earnings",
        metadata={"payout_id": payout_id},
    )


async def test_create_account_opens_a_pending_account_with_its_bank(harness: Harness) -> None:
    created = await harness.provider.create_account(account_request())
    assert created.id
    assert created.status == "pending_verification"
    assert created.transfers_enabled is False
    assert created.external_account.id
    assert created.external_account.last4 == "6789"
    assert created.external_account.bank_name
    assert created.external_account.status == "active"


async def test_create_account_is_idempotent_per_key(harness: Harness) -> None:
    request = account_request()
    first = await harness.provider.create_account(request)
    again = await harness.provider.create_account(request)
    assert (again.id, again.external_account.id) == (first.id, first.external_account.id)


async def test_add_external_account_is_idempotent_per_key(harness: Harness) -> None:
    account = await harness.provider.create_account(account_request())
    key = f"bank-account:{account.id}:{uuid.uuid4().hex}"
    added = await harness.provider.add_external_account(
        account.id, bank("000111111116"), idempotency_key=key, default=True
    )
    again = await harness.provider.add_external_account(
        account.id, bank("000111111116"), idempotency_key=key, default=True
    )
    assert added.id == again.id != account.external_account.id
    assert added.last4 == "1116"


async def test_a_transfer_is_created_once_per_key_and_found_by_it(harness: Harness) -> None:
    account = await harness.provider.create_account(account_request())
    await harness.make_payable(account.id)
    request = transfer_request(account.id, account.external_account.id)
    transfer = await harness.provider.create_transfer(request)
    assert transfer.status == "pending"
    again = await harness.provider.create_transfer(request)
    assert again.id == transfer.id
    found = await harness.provider.find_transfer(request.idempotency_key)
    assert found is not None
    assert found.id == transfer.id
    assert await harness.provider.find_transfer(f"payout_{uuid.uuid4().hex}") is None


async def test_a_transfer_to_an_unknown_account_is_refused(harness: Harness) -> None:
    request = transfer_request("acct_unknown", "ba_unknown")
    with pytest.raises(ProviderError):
        await harness.provider.create_transfer(request)
    assert await harness.provider.find_transfer(request.idempotency_key) is None


async def test_a_pending_transfer_can_be_canceled(harness: Harness) -> None:
    account = await harness.provider.create_account(account_request())
    await harness.make_payable(account.id)
    transfer = await harness.provider.create_transfer(
        transfer_request(account.id, account.external_account.id)
    )
    assert await harness.provider.cancel_transfer(transfer.id) is True


async def test_webhooks_are_verified_then_parsed_into_neutral_events(harness: Harness) -> None:
    account = await harness.provider.create_account(account_request())
    headers, body = harness.account_event(account.id)
    event = harness.provider.parse_webhook(headers, body)
    assert (event.object_kind, event.object_id) == ("account", account.id)
    assert event.data["status"] == "verified"
    assert event.data["transfers_enabled"] is True
    assert event.livemode is False
    tampered = body[:-1] + b" }"  # one byte more: another body
    with pytest.raises(WebhookVerificationError):
        harness.provider.parse_webhook(headers, tampered)
    with pytest.raises(WebhookVerificationError):
        harness.provider.parse_webhook({}, body)


async def test_settlement_events_name_the_transfer(harness: Harness) -> None:
    account = await harness.provider.create_account(account_request())
    await harness.make_payable(account.id)
    transfer = await harness.provider.create_transfer(
        transfer_request(account.id, account.external_account.id)
    )
    headers, body = harness.paid_event(transfer.id)
    event = harness.provider.parse_webhook(headers, body)
    assert (event.object_kind, event.object_id) == ("transfer", transfer.id)
    assert event.data["status"] == "paid"
