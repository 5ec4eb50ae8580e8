"""GraphQL over HTTP: response media type negotiation and the shape of request-level errors.

A client that accepts ``application/graphql-response+json`` (GraphQL-over-HTTP draft, required
of servers since 2025) gets that media type, a 4xx status when the request failed before
execution started (parse, validation, variable coercion, limits) and no ``data`` key then.
A client asking for ``application/json`` (or anything, or nothing) keeps today's answers: 200
with ``errors`` for GraphQL failures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from graphql import GraphQLError
from starlette.responses import Response

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
APPLICATION_JSON = "application/json"

# Request-level codes whose HTTP status says more than 400 does.
_STATUS_BY_CODE = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "RATE_LIMITED": 429,
    "INTERNAL": 500,
}


def response_media_type(headers: Mapping[str, str]) -> str:
    """``application/graphql-response+json`` when the client prefers (or only accepts) it."""
    accept = headers.get("accept")
    if not accept or GRAPHQL_RESPONSE_JSON not in accept:
        return APPLICATION_JSON
    weights = dict(_accepted(accept))
    graphql_response = weights.get(GRAPHQL_RESPONSE_JSON, 0.0)
    json = max(weights.get(APPLICATION_JSON, 0.0), weights.get("application/*", 0.0))
    return (
        GRAPHQL_RESPONSE_JSON
        if graphql_response > 0 and graphql_response >= json
        else (APPLICATION_JSON)
    )


def _accepted(accept: str) -> Iterable[tuple[str, float]]:
    for part in accept.split(","):
        media_type, *params = (piece.strip() for piece in part.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        yield media_type.lower(), weight


def execution_started(data: object, errors: list[GraphQLError] | None) -> bool:
    """False for results refused before execution: no data and no error bound to a field."""
    if data is not None or not errors:
        return True
    return any(error.path for error in errors)


def status_for_unexecuted(errors: list[GraphQLError]) -> int:
    for error in errors:
        code = (error.extensions or {}).get("code")
        if code in _STATUS_BY_CODE:
            return _STATUS_BY_CODE[code]
    return 400


def error_body(
    message: str, code: str = "BAD_USER_INPUT", **extensions: Any
) -> dict[str, list[dict[str, Any]]]:
    return {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}


def error_response(
    status: int,
    message: str,
    *,
    media_type: str = APPLICATION_JSON,
    code: str = "BAD_USER_INPUT",
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    return Response(
        orjson.dumps(error_body(message, code, **extensions)),
        status_code=status,
        media_type=media_type,
        headers=dict(headers or {}),
    )
