"""The one place that builds the Stripe client (API version pinned here) and translates
Stripe's errors into the neutral ones of ``providers.base``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import stripe

from providers.base import (
    ProviderAuthError,
    ProviderError,
    ProviderInputError,
    ProviderUnavailable,
)
from providers.stripe.config import STRIPE_API_BASE, STRIPE_FILES_BASE, StripeConfig

log = logging.getLogger(__name__)

# Every request carries this version, so Stripe's answers keep the shape we parse. Move it
# deliberately, together with the SDK (whose types follow the version it was generated for).
API_VERSION = "2026-10-28.endive"

FieldOf = Callable[[str], tuple[str, ...] | None]
T = TypeVar("T")


def build_client(config: StripeConfig) -> stripe.StripeClient:
    api = config.api_base or STRIPE_API_BASE
    files = config.api_base or STRIPE_FILES_BASE
    return stripe.StripeClient(
        config.secret_key,
        stripe_version=API_VERSION,
        base_addresses={"api": api, "files": files, "connect": api},
        max_network_retries=config.max_network_retries,
        http_client=stripe.HTTPXClient(timeout=config.timeout_seconds),
    )


async def call(operation: str, awaitable: Awaitable[T], field_of: FieldOf | None = None) -> T:
    """Await one SDK call, translating its errors."""
    try:
        return await awaitable
    except stripe.StripeError as exc:
        raise translate(exc, operation, field_of) from None


def translate(
    exc: stripe.StripeError, operation: str, field_of: FieldOf | None = None
) -> Exception:
    """Stripe's error → ProviderInputError (the merchant's input, on the right field),
    ProviderAuthError (our credentials: logged for the operator) or ProviderError (retry)."""
    request_id = getattr(exc, "request_id", None)
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        log.critical(
            "Stripe refused our API key during %s (%s, request %s): check "
            "PAYOUTS_STRIPE_SECRET_KEY and the key's permissions",
            operation,
            type(exc).__name__,
            request_id,
        )
        return ProviderAuthError(f"Stripe refused the API key ({operation})")
    if isinstance(exc, stripe.InvalidRequestError) and field_of is not None and exc.param:
        field = field_of(exc.param)
        if field is not None:
            message = exc.user_message or "the provider refused this value"
            return ProviderInputError(str(message), field)
    if isinstance(exc, stripe.IdempotencyError):
        log.error("Stripe idempotency conflict during %s (request %s)", operation, request_id)
    else:
        log.warning(
            "Stripe %s failed: %s (status %s, code %s, request %s)",
            operation,
            type(exc).__name__,
            exc.http_status,
            exc.code,
            request_id,
        )
    unavailable = isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError) or (
        exc.http_status is not None and (exc.http_status == 429 or exc.http_status >= 500)
    )
    kind = ProviderUnavailable if unavailable else ProviderError
    return kind(f"Stripe {operation} failed: {type(exc).__name__}")
