"""The live provider on Stripe Connect (SPEC §3.9), on the official SDK's async methods."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

import stripe

from models.base import utcnow
from providers.base import ProviderError, WebhookEvent, WebhookVerificationError
from providers.stripe.accounts import StripeAccounts
from providers.stripe.client import build_client
from providers.stripe.config import StripeConfig
from providers.stripe.events import account_event, payout_event, reversal_event, to_event
from providers.stripe.transfers import StripeTransfers

log = logging.getLogger(__name__)
NAME = "stripe"


class StripeProvider(StripeAccounts, StripeTransfers):
    name = NAME

    def __init__(self, config: StripeConfig, client: stripe.StripeClient | None = None) -> None:
        if not config.webhook_secrets:
            raise ValueError("a Stripe webhook signing secret (whsec_…) is required")
        self.config = config
        self.client = client or build_client(config)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """Check ``Stripe-Signature`` against each configured endpoint secret (a Connect and
        an account endpoint may both point here) before reading anything."""
        header = next((v for k, v in headers.items() if k.lower() == "stripe-signature"), None)
        for secret in self.config.webhook_secrets:
            try:
                stripe.WebhookSignature.verify_header(
                    body, header, secret, self.config.webhook_tolerance_seconds
                )
            except (stripe.SignatureVerificationError, ValueError):
                continue  # a body that is not UTF-8 fails before the check: unverified too
            return to_event(body)
        raise WebhookVerificationError("bad or stale Stripe-Signature")

    async def current_event(self, event: WebhookEvent) -> WebhookEvent:
        """The event with its object re-read from Stripe now (Stripe does not keep events in
        order; the object's current state does), falling back to the event's snapshot when
        Stripe cannot be read (the state machine still never moves backwards).

        A payout that failed or was canceled left its money on the connected account: the
        transfer is reversed to the platform before the event may be applied (our ledger gives
        the amount back to the merchant's available balance). If that cannot be done now, this
        raises ProviderError and nothing is stored: Stripe redelivers the event later.
        """
        read_at = utcnow()
        try:
            fresh = replace(
                await self._reread(event, read_at),
                type=event.type,
                occurred_at=max(read_at, event.occurred_at),
            )
        except (stripe.StripeError, ProviderError) as exc:
            log.warning("could not re-read %s for event %s: %s", event.object_kind, event.id, exc)
            fresh = event
        if "stripe_payout" in fresh.data and fresh.data.get("status") in ("failed", "canceled"):
            await self.return_to_platform(fresh.object_id)
        return fresh

    async def _reread(self, event: WebhookEvent, read_at: datetime) -> WebhookEvent:
        if event.object_kind == "account":
            account = await self.client.v1.accounts.retrieve_async(event.object_id)
            return account_event(event.id, read_at, event.livemode, account)
        if "stripe_payout" in event.data:
            account_id = str(event.data["stripe_account"])
            payout = await self.retrieve_payout(account_id, str(event.data["stripe_payout"]))
            return payout_event(event.id, event.type, read_at, event.livemode, payout, account_id)
        transfer = await self.retrieve_transfer(event.object_id)
        return reversal_event(event.id, read_at, event.livemode, transfer)
