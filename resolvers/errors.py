"""Error model: ``UserError`` in payloads for business failures; top-level errors with an
``extensions.code`` only for request-level faults."""

from __future__ import annotations

import enum

import strawberry
from graphql import GraphQLError

from services.errors import DomainError, ValidationFailed


@strawberry.enum
class UserErrorCode(enum.Enum):
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
    URL_REJECTED = "URL_REJECTED"


@strawberry.type
class UserError:
    code: UserErrorCode
    message: str
    field: list[str] | None = None


def user_errors_from(error: DomainError) -> list[UserError]:
    errors = error.errors if isinstance(error, ValidationFailed) else [error]
    return [UserError(code=UserErrorCode(e.code), message=e.message, field=e.field) for e in errors]


class RequestError(GraphQLError):
    """A request-level fault, shown to the client with its ``extensions.code``."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, extensions={"code": code})


def unauthenticated() -> RequestError:
    return RequestError("A valid API key is required (x-api-key header).", "UNAUTHENTICATED")


def bad_user_input(message: str) -> RequestError:
    return RequestError(message, "BAD_USER_INPUT")
