"""A provider's refusal as the merchant sees it: their own input refused → VALIDATION_ERROR on
that field; our credentials refused → PROVIDER_NOT_CONFIGURED (the adapter logged it for the
operator); unreachable / rate limited / 5xx → PROVIDER_UNAVAILABLE; anything else →
PROVIDER_ERROR. Nothing was stored in any of these cases."""

from __future__ import annotations

from providers.base import ProviderAuthError, ProviderError, ProviderInputError, ProviderUnavailable
from services.errors import DomainError, ErrorCode

# Neutral request names whose GraphQL input name is not their camelCase form.
_RENAMED = {"holder_name": "accountHolderName", "ssn_last4": "ssnLast4"}


def provider_failure(exc: ProviderError, *, under: tuple[str, ...] = ()) -> DomainError:
    """``under``: the neutral path the input starts at (``("bank",)`` for addBankAccount,
    whose input holds the bank fields at its top level)."""
    if isinstance(exc, ProviderInputError):
        field = exc.field[len(under) :] if exc.field[: len(under)] == under else exc.field
        return DomainError(
            ErrorCode.VALIDATION_ERROR,
            f"the payout provider refused this value: {exc}",
            ["input", *(_graphql_name(part) for part in field)],
        )
    if isinstance(exc, ProviderAuthError):
        return DomainError(
            ErrorCode.PROVIDER_NOT_CONFIGURED,
            "the payout provider is not configured correctly (the operator has been alerted)",
            None,
        )
    if isinstance(exc, ProviderUnavailable):
        return DomainError(
            ErrorCode.PROVIDER_UNAVAILABLE,
            "the payout provider is unavailable right now; nothing was changed, try again",
            None,
        )
    return DomainError(ErrorCode.PROVIDER_ERROR, "the payout provider refused the request", None)


def _graphql_name(part: str) -> str:
    if part in _RENAMED:
        return _RENAMED[part]
    head, *rest = part.split("_")
    return head + "".join(word.capitalize() for word in rest)
