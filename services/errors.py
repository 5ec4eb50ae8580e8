"""Domain errors: expected business failures, mapped to ``userErrors`` at the edge."""

from __future__ import annotations

from collections.abc import Sequence


class DomainError(Exception):
    """A business rule said no. ``code`` is a ``UserErrorCode`` name; nothing was changed."""

    def __init__(self, code: str, message: str, field: Sequence[str] | None = None) -> None:
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
    return DomainError("VALIDATION_ERROR", message, list(field))


class NotFound(DomainError):
    def __init__(self, what: str, field: Sequence[str] | None = None) -> None:
        super().__init__("NOT_FOUND", f"{what} not found", field)
