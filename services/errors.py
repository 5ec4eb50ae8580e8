"""Domain errors: expected business failures, mapped to ``userErrors`` at the edge."""

from __future__ import annotations

import enum
from collections.abc import Sequence


class ErrorCode(enum.StrEnum):
    """Why a business rule said no. The GraphQL ``UserErrorCode`` enum is generated from this
    one (``resolvers.errors``): add a code here and it appears in the schema."""

    VALIDATION_ERROR = "VALIDATION_ERROR"
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    PAYOUT_ACCOUNT_REQUIRED = "PAYOUT_ACCOUNT_REQUIRED"
    PAYOUT_ACCOUNT_NOT_VERIFIED = "PAYOUT_ACCOUNT_NOT_VERIFIED"
    NO_DEFAULT_BANK_ACCOUNT = "NO_DEFAULT_BANK_ACCOUNT"
    DUPLICATE = "DUPLICATE"
    DOCUMENT_URL_REJECTED = "DOCUMENT_URL_REJECTED"
    IDEMPOTENCY_KEY_MISMATCH = "IDEMPOTENCY_KEY_MISMATCH"
    IDEMPOTENCY_IN_PROGRESS = "IDEMPOTENCY_IN_PROGRESS"
    PROVIDER_ERROR = "PROVIDER_ERROR"
    PROVIDER_NOT_CONFIGURED = "PROVIDER_NOT_CONFIGURED"
    NOT_FOUND = "NOT_FOUND"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    PLAN_ALREADY_IN_GROUP = "PLAN_ALREADY_IN_GROUP"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    INVALID_PLAN_ORDER = "INVALID_PLAN_ORDER"
    TEST_MODE_ONLY = "TEST_MODE_ONLY"
    PROVIDER_UNAVAILABLE = "PROVIDER_UNAVAILABLE"
    URL_REJECTED = "URL_REJECTED"  # a webhook endpoint URL refused by the network guard


class DomainError(Exception):
    """A business rule said no (``code``); nothing was changed."""

    def __init__(self, code: ErrorCode, message: str, field: Sequence[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = list(field) if field is not None else None


class ValidationFailed(DomainError):
    """One or more inputs are malformed; each problem is one entry of ``errors``."""

    def __init__(self, errors: Sequence[DomainError]) -> None:
        first = errors[0]
        super().__init__(first.code, first.message, first.field)
        self.errors = list(errors)


def validation_error(message: str, *field: str) -> DomainError:
    return DomainError(ErrorCode.VALIDATION_ERROR, message, list(field))


class NotFound(DomainError):
    def __init__(self, what: str, field: Sequence[str] | None = None) -> None:
        super().__init__(ErrorCode.NOT_FOUND, f"{what} not found", field)
