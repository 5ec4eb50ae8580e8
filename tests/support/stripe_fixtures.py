"""Shared pieces for tests that talk to the Stripe double: a started double, an official SDK
client pointed at it, and a StripeProvider configured for it."""

from __future__ import annotations

from typing import Any

import stripe

from providers.stripe import StripeConfig, StripeProvider
from providers.stripe.client import API_VERSION
from tests.support.stripe_double import StripeDouble

CONTROLLER: dict[str, Any] = {
    "fees": {"payer": "application"},
    "losses": {"payments": "application"},
    "requirement_collection": "application",
    "stripe_dashboard": {"type": "none"},
}


def sdk_client(double: StripeDouble, *, api_key: str | None = None, retries: int = 0) -> Any:
    base = double.url
    return stripe.StripeClient(
        api_key or double.api_key,
        stripe_version=API_VERSION,
        base_addresses={"api": base, "files": base, "connect": base},
        http_client=stripe.HTTPXClient(timeout=10),
        max_network_retries=retries,
    )


def stripe_provider(
    double: StripeDouble, *, api_key: str | None = None, retries: int = 0
) -> StripeProvider:
    config = StripeConfig(
        secret_key=api_key or double.api_key,
        webhook_secrets=(double.webhook_secret,),
        api_base=double.url,
        max_network_retries=retries,
        timeout_seconds=10,
    )
    return StripeProvider(config)


def individual_account_params(**extra: Any) -> dict[str, Any]:
    return {
        "country": "US",
        "email": "ada@example.com",
        "business_type": "individual",
        "controller": CONTROLLER,
        "capabilities": {"transfers": {"requested": True}},
        "individual": {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "dob": {"day": 10, "month": 12, "year": 1985},
        },
        "tos_acceptance": {"date": 1_700_000_000, "ip": "203.0.113.7"},
        **extra,
    }


BANK = {
    "object": "bank_account",
    "country": "US",
    "currency": "usd",
    "account_number": "000123456789",
    "routing_number": "110000000",
    "account_holder_name": "Ada Lovelace",
}
