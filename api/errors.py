"""Top-level GraphQL errors: every one carries ``extensions.code``; unexpected exceptions are
masked as ``INTERNAL`` and logged in full with the request id."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from api.error_frames import release_frames

log = logging.getLogger("payouts.errors")

_COMPLEXITY_MARKERS = (
    "exceeds maximum operation depth",
    "aliases found. Allowed",
    "Document contains more than",
)


# graphql-core quotes the rejected value ("String cannot represent a non string value: 1234…");
# it may be an account or ID number, so the value is cut from the message (SPEC §3.2).
_ECHOED_VALUE = re.compile(r"(cannot represent [^:;]*?value)\s*:.*$", re.S)


def redact_values(message: str) -> str:
    return _ECHOED_VALUE.sub(r"\1.", message)


def is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


def error_code(error: GraphQLError) -> str:
    if any(marker in error.message for marker in _COMPLEXITY_MARKERS):
        return "QUERY_TOO_COMPLEX"
    return "BAD_USER_INPUT"


class ErrorShaping(SchemaExtension):
    """Masks unexpected errors and gives each error a machine-readable code."""

    _streamed = False

    def on_operation(self) -> Iterator[None]:
        self._streamed = False
        yield
        if self._streamed:
            return  # each streamed result was shaped on its way out
        self._shape_result(self.execution_context.result)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        # Subscriptions (and anything sent over WebSocket) send results one by one: shape each
        # before it leaves, or an unexpected error would reach the client unmasked.
        self._streamed = True
        self._shape_result(result)
        yield

    def _shape_result(self, result: Any) -> None:
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [self._shape(error) for error in errors]

    def _shape(self, error: GraphQLError) -> GraphQLError:
        return shape_error(error, getattr(self.execution_context.context, "request_id", None))


def shape_error(error: GraphQLError, request_id: str | None) -> GraphQLError:
    """An unexpected error masked as INTERNAL (and logged in full); any other gets a code.

    Every error passes here last: its frames are released after it (see
    ``api/error_frames.py``), so that a failed request leaves no cycle behind."""
    try:
        return _shaped(error, request_id)
    finally:
        release_frames((error,))


def _shaped(error: GraphQLError, request_id: str | None) -> GraphQLError:
    if is_unexpected(error):
        log.error(
            "unexpected error in %s (request %s): %s",
            ".".join(str(p) for p in error.path or ()) or "operation",
            request_id,
            type(error.original_error).__name__,
            exc_info=error.original_error,
            extra={"request_id": request_id},
        )
        return GraphQLError(
            "Internal server error. Quote the request id when contacting support.",
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": "INTERNAL", "requestId": request_id},
        )
    if error.extensions and "code" in error.extensions:
        return error
    return GraphQLError(
        redact_values(error.message),
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions={**(error.extensions or {}), "code": error_code(error)},
    )
