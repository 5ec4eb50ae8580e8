"""A finished request leaves no reference cycles behind: its objects are freed by reference
counting when it ends, not by the full garbage collection, whose pass over a heap of dead
requests held the event loop for hundreds of milliseconds (issue 17)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from typing import Any

import orjson
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.schema import build_schema
from api.settings import Settings
from tests.support.orgs import TestOrg

ROUNDS = 20


@pytest.fixture
def collector_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[Starlette]:
    app = create_app(Settings(database_url=database_url, demo_org_on_start=False))
    async with app.router.lifespan_context(app):
        yield app


async def cyclic_garbage_per_round(run: Callable[[], Awaitable[None]]) -> float:
    """Objects only the cycle collector could free, per call of ``run`` (after a warm-up)."""
    for _ in range(3):
        await run()
    gc.collect()
    for _ in range(ROUNDS):
        await run()
    return gc.collect() / ROUNDS


async def test_an_execution_leaves_no_cycles(collector_off: None) -> None:
    schema = build_schema(Settings())

    async def run() -> None:
        result = await schema.execute("{ a: __typename }")
        assert result.errors is None

    assert await cyclic_garbage_per_round(run) < 1


async def post(app: Starlette, body: dict[str, Any], key: str) -> dict[str, Any]:
    """One POST straight through the ASGI app (a client library's own objects would be
    counted too)."""
    raw = orjson.dumps(body)
    messages: list[MutableMapping[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"x-api-key", key.encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    await app(scope, receive, send)
    body_parts = [m.get("body", b"") for m in messages if m["type"] == "http.response.body"]
    return dict(orjson.loads(b"".join(body_parts)))


# What a request's cycles held when they reached the full collection: its frames (through
# the tracebacks of its errors), its executor, request and context.
REQUEST_STATE = {"frame", "traceback", "PayoutsExecutionContext", "Request", "Context"}


@pytest.mark.parametrize("path", ["full", "fast"])
async def test_failed_requests_leave_none_of_their_state_to_the_collector(
    app: Starlette, org: TestOrg, collector_off: None, path: str
) -> None:
    async def run(round: int) -> None:
        if path == "fast":  # the same text again: accepted, so served by api/fast_path.py
            round = 0
        # Otherwise a new text each time: the full path (parse, validation, strawberry's).
        query = (
            f"query($a: String) {{ r{round}: plans(first: 2, after: $a) {{ edges {{ cursor }} }} }}"
        )
        answer = await post(app, {"query": query, "variables": {"a": "not a cursor"}}, org.test_key)
        assert [e["extensions"]["code"] for e in answer["errors"]] == ["BAD_USER_INPUT"]

    for round in range(3):
        await run(round)
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for round in range(3, 3 + ROUNDS):
            await run(round)
        gc.collect()
        left = sorted({type(o).__name__ for o in gc.garbage} & REQUEST_STATE)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert left == []
