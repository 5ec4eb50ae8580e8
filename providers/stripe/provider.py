"""The live provider on Stripe Connect (SPEC §3.9), on the official SDK's async methods."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace

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
            except stripe.SignatureVerificationError:
                continue
            return to_event(body)
        raise WebhookVerificationError("bad or stale Stripe-Signature")

    async def current_event(self, event: WebhookEvent) -> WebhookEvent:
        """The event with the object's state re-read from Stripe now: Stripe does not keep
        events in order, the object's current state does. Falls back to the event's snapshot
        when Stripe cannot be asked (the state machine still never moves backwards)."""
        read_at = utcnow()
        try:
            if event.object_kind == "account":
                account = await self.client.v1.accounts.retrieve_async(event.object_id)
                fresh = account_event(event.id, read_at, event.livemode, account)
            elif "stripe_payout" in event.data:
                payout = await self.retrieve_payout(
                    str(event.data["stripe_account"]), str(event.data["stripe_payout"])
                )
                fresh = payout_event(
                    event.id,
                    event.type,
                    read_at,
                    event.livemode,
                    payout,
                    str(event.data["stripe_account"]),
                )
            else:
                transfer = await self.retrieve_transfer(event.object_id)
                fresh = reversal_event(event.id, read_at, event.livemode, transfer)
        except (stripe.StripeError, ProviderError) as exc:
            log.warning("could not re-read %s for event %s: %s", event.object_kind, event.id, exc)
            return event
        return replace(fresh, type=event.type, occurred_at=max(read_at, event.occurred_at))
