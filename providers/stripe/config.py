from __future__ import annotations

from dataclasses import dataclass

STRIPE_API_BASE = "https://api.stripe.com"
STRIPE_FILES_BASE = "https://files.stripe.com"


@dataclass(frozen=True, slots=True)
class StripeConfig:
    secret_key: str  # sk_live_…, sk_test_… or a restricted rk_… key
    webhook_secrets: tuple[str, ...]  # whsec_… of each endpoint pointed at /webhooks/stripe
    # One base for every Stripe host (tests point it at the Stripe double); None = Stripe's.
    api_base: str | None = None
    max_network_retries: int = 2
    timeout_seconds: float = 30.0
    webhook_tolerance_seconds: int = 300

    @property
    def livemode(self) -> bool:
        return self.secret_key.startswith(("sk_live_", "rk_live_"))
