"""Errors sent over WebSocket (strawberry's ``Schema.stream``) are shaped like HTTP ones:
unexpected exceptions masked as INTERNAL, every error with a code."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import strawberry

from api.errors import ErrorShaping


@strawberry.type
class Query:
    @strawberry.field
    def boom(self) -> int:
        raise RuntimeError("database password is hunter2")


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def booms(self) -> AsyncGenerator[int, None]:
        yield 1
        raise RuntimeError("internal detail hunter2")


SCHEMA = strawberry.Schema(query=Query, subscription=Subscription, extensions=[ErrorShaping])


class Sent:
    """An error as a transport sends it: read when the result is yielded, not later."""

    def __init__(self, formatted: Any) -> None:
        self.message: str = formatted["message"]
        self.extensions: dict[str, Any] = formatted.get("extensions") or {}


class Snapshot:
    def __init__(self, errors: list[Sent]) -> None:
        self.errors = errors


async def collect(query: str) -> list[Snapshot]:
    stream = await SCHEMA.stream(query)
    return [
        Snapshot([Sent(e.formatted) for e in (getattr(result, "errors", None) or [])])
        async for result in stream
    ]


async def test_unexpected_query_error_over_a_stream_is_masked() -> None:
    results = await collect("{ boom }")
    errors = [e for r in results for e in (getattr(r, "errors", None) or [])]
    assert errors
    for error in errors:
        assert "hunter2" not in error.message
        assert error.extensions["code"] == "INTERNAL"


async def test_unexpected_subscription_error_is_masked() -> None:
    results = await collect("subscription { booms }")
    errors = [e for r in results for e in (getattr(r, "errors", None) or [])]
    assert errors
    assert all("hunter2" not in e.message for e in errors)
    assert all(e.extensions["code"] == "INTERNAL" for e in errors)


async def test_validation_error_over_a_stream_has_a_code() -> None:
    results = await collect("{ nope }")
    errors = [e for r in results for e in (getattr(r, "errors", None) or [])]
    assert errors and all(e.extensions["code"] == "BAD_USER_INPUT" for e in errors)
