"""Error model: ``UserError`` in payloads for business failures; top-level errors with an
``extensions.code`` only for request-level faults."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from services.errors import DomainError, ErrorCode, ValidationFailed

# Generated from the services' codes: the schema's enum cannot drift from what services raise.
UserErrorCode = strawberry.enum(ErrorCode, name="UserErrorCode")


@strawberry.type
class UserError:
    code: UserErrorCode  # type: ignore[valid-type]
    message: str
    field: list[str] | None = None


def user_errors_from(error: DomainError) -> list[UserError]:
    errors = error.errors if isinstance(error, ValidationFailed) else [error]
    return [UserError(code=ErrorCode(e.code), message=e.message, field=e.field) for e in errors]


class RequestError(GraphQLError):
    """A request-level fault, shown to the client with its ``extensions.code``."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, extensions={"code": code})


def unauthenticated() -> RequestError:
    return RequestError("A valid API key is required (x-api-key header).", "UNAUTHENTICATED")


def bad_user_input(message: str) -> RequestError:
    return RequestError(message, "BAD_USER_INPUT")
