"""Stripe's error bodies: ``{"error": {"type", "code", "message", "param", "doc_url", ...}}``."""

from __future__ import annotations

from typing import Any

DOCS = "https://stripe.com/docs/error-codes"


class StripeError(Exception):
    def __init__(
        self,
        status: int,
        type: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type
        self.message = message
        self.code = code
        self.param = param
        self.headers = headers or {}

    @classmethod
    def invalid(
        cls, message: str, *, param: str | None = None, code: str | None = None, status: int = 400
    ) -> StripeError:
        return cls(status, "invalid_request_error", message, code=code, param=param)

    @classmethod
    def missing(cls, kind: str, object_id: str, param: str = "id") -> StripeError:
        return cls(
            404,
            "invalid_request_error",
            f"No such {kind}: '{object_id}'",
            code="resource_missing",
            param=param,
        )

    def body(self, request_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"{DOCS}/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        return {"error": error}
