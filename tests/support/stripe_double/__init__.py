"""A Stripe double for tests (never shipped): a real HTTP server speaking Stripe's wire format
for the Connect objects the live provider uses. See ``server.StripeDouble``."""

from tests.support.stripe_double.server import API_VERSION, StripeDouble, sign

__all__ = ["API_VERSION", "StripeDouble", "sign"]
