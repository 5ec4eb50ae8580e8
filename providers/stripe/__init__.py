from providers.stripe.config import StripeConfig
from providers.stripe.provider import StripeProvider

__all__ = ["StripeConfig", "StripeProvider"]
