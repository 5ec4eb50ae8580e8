"""The platform's error envelope and HTTP statuses.

Body: ``{"success": false, "error": {"type", "code", "message", "param", "details",
"doc_url"}}``. A validation error has code ``validation_error`` and ``details`` listing
``{"field", "message"}`` per problem: the official SDKs raise their typed validation error from
exactly that. A business failure keeps the code GraphQL reports in ``userErrors``, in lower case
(``INSUFFICIENT_BALANCE`` → ``insufficient_balance``), with the platform's error type.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from services.errors import DomainError, ValidationFailed


@dataclass(frozen=True, slots=True)
class Kind:
    status: int
    type: str


# Every code services raise (GraphQL's UserErrorCode), with its status and the platform's type.
DOMAIN_ERRORS: dict[str, Kind] = {
    "VALIDATION_ERROR": Kind(422, "validation_error"),
    "DOCUMENT_URL_REJECTED": Kind(422, "validation_error"),
    "URL_REJECTED": Kind(422, "validation_error"),
    "INVALID_PLAN_ORDER": Kind(400, "validation_error"),
    "INSUFFICIENT_BALANCE": Kind(400, "billing_error"),
    "PAYOUT_ACCOUNT_REQUIRED": Kind(409, "conflict_error"),
    "PAYOUT_ACCOUNT_NOT_VERIFIED": Kind(409, "conflict_error"),
    "NO_DEFAULT_BANK_ACCOUNT": Kind(409, "conflict_error"),
    "DUPLICATE": Kind(409, "conflict_error"),
    "IDEMPOTENCY_KEY_MISMATCH": Kind(409, "conflict_error"),
    "IDEMPOTENCY_IN_PROGRESS": Kind(409, "conflict_error"),
    "INVALID_TRANSITION": Kind(409, "conflict_error"),
    "PLAN_ALREADY_IN_GROUP": Kind(409, "conflict_error"),
    "CURRENCY_MISMATCH": Kind(409, "conflict_error"),
    "PROVIDER_NOT_CONFIGURED": Kind(409, "conflict_error"),
    "NOT_FOUND": Kind(404, "not_found_error"),
    "TEST_MODE_ONLY": Kind(403, "authentication_error"),
    "PROVIDER_ERROR": Kind(502, "internal_error"),
    "PROVIDER_UNAVAILABLE": Kind(503, "internal_error"),
}
# The platform's own names where it has one.
PLATFORM_CODES = {"TEST_MODE_ONLY": "sandbox_only"}
# A missing object is named after the field that pointed at it (``plan_group_not_found``).
NOT_FOUND_CODES = {"planGroupId": "plan_group_not_found", "planId": "plan_not_found"}
# Service field paths that are not body fields here.
FIELD_NAMES = {"first": "limit", "after": "cursor", "idempotencyKey": "Idempotency-Key"}
ERROR_STATUSES = sorted({kind.status for kind in DOMAIN_ERRORS.values()} | {400, 401, 429})


@dataclass
class RestError(Exception):
    status: int
    type: str
    code: str
    message: str
    param: str | None = None
    details: list[dict[str, str]] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {
            "success": False,
            "error": {
                "type": self.type,
                "code": self.code,
                "message": self.message,
                "param": self.param,
                "details": self.details,
                "doc_url": None,
            },
        }


def unauthorized() -> RestError:
    return RestError(
        401,
        "authentication_error",
        "unauthorized",
        "A valid API key is required (x-api-key header or Authorization: Bearer).",
    )


def rate_limited(retry_after: int) -> RestError:
    return RestError(
        429,
        "rate_limit_error",
        "rate_limited",
        f"Too many requests. Retry after {retry_after} s.",
        headers={"Retry-After": str(retry_after)},
    )


def invalid_json() -> RestError:
    return RestError(400, "validation_error", "invalid_json", "The request body is not valid JSON.")


def too_large() -> RestError:
    return RestError(413, "validation_error", "request_too_large", "request body too large")


def not_found(message: str = "No such endpoint.") -> RestError:
    return RestError(404, "not_found_error", "not_found", message)


def method_not_allowed(allowed: Iterable[str]) -> RestError:
    methods = ", ".join(sorted(allowed))
    return RestError(
        405,
        "validation_error",
        "method_not_allowed",
        f"This endpoint accepts {methods}.",
        headers={"Allow": methods},
    )


def internal(request_id: str) -> RestError:
    return RestError(
        500,
        "internal_error",
        "internal_error",
        f"Internal server error. Quote the request id {request_id} when contacting support.",
    )


def field_name(path: Sequence[str] | None, renames: Mapping[str, str]) -> str | None:
    """A service's field path (``["input", "individual", "address", "city"]``) as the body's
    dotted camelCase path (``individual.address.city``)."""
    if not path:
        return None
    parts = [str(part) for part in path]
    if parts[0] == "input":
        parts = parts[1:]
    if not parts:
        return None
    name = ".".join(parts)
    return renames.get(name, FIELD_NAMES.get(name, name))


def from_domain(
    error: DomainError, renames: Mapping[str, str], not_found: str = "not_found"
) -> RestError:
    code = str(error.code)
    kind = DOMAIN_ERRORS.get(code, Kind(400, "validation_error"))
    if code == "VALIDATION_ERROR":
        problems = error.errors if isinstance(error, ValidationFailed) else [error]
        return validation_failed(
            [(field_name(p.field, renames) or "body", p.message) for p in problems]
        )
    raw_field = field_name(error.field, {})
    param = field_name(error.field, renames)
    if code == "NOT_FOUND":
        name = NOT_FOUND_CODES.get(raw_field or "", not_found)
    else:
        name = PLATFORM_CODES.get(code, code.lower())
    return RestError(kind.status, kind.type, name, error.message, param)


def validation_failed(problems: Sequence[tuple[str, str]]) -> RestError:
    details = [{"field": name, "message": message} for name, message in problems]
    first = details[0]
    summary = f"{first['field']}: {first['message']}"
    if len(details) > 1:
        summary += f" (and {len(details) - 1} more)"
    return RestError(422, "validation_error", "validation_error", summary, first["field"], details)


def from_pydantic(exc: ValidationError, *, where: str = "body") -> RestError:
    """Shape errors of a request body (or query string), with camelCase dotted paths."""
    problems = []
    for err in exc.errors(include_url=False, include_input=False):
        if err["type"] == "json_invalid":
            return invalid_json()
        loc = [str(part) for part in err["loc"]]
        name = ".".join(loc) if loc else where
        problems.append((name, _message(err)))
    return validation_failed(problems)


def _message(err: Mapping[str, Any]) -> str:
    kind = err.get("type")
    if kind == "extra_forbidden":
        return "unknown field: this endpoint does not accept it"
    if kind == "missing":
        return "is required"
    return str(err.get("msg", "invalid value")).removeprefix("Value error, ")
