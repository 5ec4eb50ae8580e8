"""GraphQL-over-WebSocket abuse against real server processes: the graphql-transport-ws close
codes, the message size cap, the operation cap, and the server still serving afterwards.

Duplicate ids and the operation cap need operations that stay open: they hold the product's
``balanceUpdated`` subscription, on a ``payouts serve`` process with a cap of three operations.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.support.graphql import GraphQLClient
from tests.support.live_server import (
    LiveServer,
    start_server,
)
from tests.support.orgs import TestOrg
from tests.support.payouts import credit

pytestmark = pytest.mark.e2e

PROTOCOL: Any = ["graphql-transport-ws"]
VIEWER = "{ viewer { livemode } }"
HOLD = "subscription { balanceUpdated { type balance { available } } }"


def connect(url: str, **kwargs: Any) -> Any:
    return websockets.connect(url, subprotocols=PROTOCOL, max_size=None, **kwargs)


async def init(ws: ClientConnection, key: str) -> None:
    await ws.send(json.dumps({"type": "connection_init", "payload": {"x-api-key": key}}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"


async def subscribe(ws: ClientConnection, op_id: str, query: str) -> None:
    await ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": query}}))


async def close_code(ws: ClientConnection) -> int | None:
    with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
        while True:
            await ws.recv()
    received = closed.value.rcvd
    return received.code if received is not None else None


async def assert_still_serving(live: LiveServer, key: str) -> None:
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{live.url}/healthz")).status_code == 200
    async with connect(live.ws_url) as ws:
        await init(ws, key)
        await subscribe(ws, "ok", VIEWER)
        message = json.loads(await ws.recv())
        assert message["type"] == "next"
        assert message["payload"]["data"] == {"viewer": {"livemode": False}}


async def test_subscribe_before_connection_init_closes_4401(
    server: LiveServer, org: TestOrg
) -> None:
    async with connect(server.ws_url) as ws:
        await subscribe(ws, "1", VIEWER)
        assert await close_code(ws) == 4401
    await assert_still_serving(server, org.test_key)


async def test_ten_megabyte_message_closes_1009(server: LiveServer, org: TestOrg) -> None:
    async with connect(server.ws_url) as ws:
        await init(ws, org.test_key)
        padding = "x" * (10 * 1024 * 1024)
        await ws.send(json.dumps({"id": "big", "type": "subscribe", "payload": {"query": padding}}))
        assert await close_code(ws) == 1009
    await assert_still_serving(server, org.test_key)


async def test_malformed_message_closes_4400(server: LiveServer, org: TestOrg) -> None:
    async with connect(server.ws_url) as ws:
        await init(ws, org.test_key)
        await ws.send("{not json")
        assert await close_code(ws) == 4400
    await assert_still_serving(server, org.test_key)


async def test_second_connection_init_closes_4429(server: LiveServer, org: TestOrg) -> None:
    async with connect(server.ws_url) as ws:
        await init(ws, org.test_key)
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert await close_code(ws) == 4429


async def test_connection_init_timeout_closes_4408(
    database_url: str, tmp_path: Path, org: TestOrg
) -> None:
    with start_server(
        database_url, tmp_path / "server.log", PAYOUTS_WS_INIT_TIMEOUT_SECONDS="0.5"
    ) as live:
        async with connect(live.ws_url) as ws:
            assert await close_code(ws) == 4408
        await assert_still_serving(live, org.test_key)


@pytest.fixture(scope="module")
def hold_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The real server, at most 3 operations a socket."""
    log_path = tmp_path_factory.mktemp("ws-hold") / "server.log"
    with start_server(database_url, log_path, PAYOUTS_WS_MAX_OPERATIONS="3") as live:
        yield live


async def _next_ids(ws: ClientConnection, live: LiveServer, key: str, wanted: set[str]) -> set[str]:
    """Make a balance change, then read until each of ``wanted`` has had a result."""
    async with GraphQLClient(live.graphql_url, key) as http:
        await credit(http, 100)
    seen: set[str] = set()
    while not wanted <= seen:
        message = json.loads(await asyncio.wait_for(ws.recv(), 15))
        assert message["type"] == "next", message
        assert message["payload"]["data"]["balanceUpdated"]["type"] == "balance.updated"
        seen.add(message["id"])
    return seen


async def test_duplicate_operation_id_closes_4409(hold_server: LiveServer, org: TestOrg) -> None:
    async with connect(hold_server.ws_url) as ws:
        await init(ws, org.test_key)
        await subscribe(ws, "same", HOLD)
        assert await _next_ids(ws, hold_server, org.test_key, {"same"}) == {"same"}
        await subscribe(ws, "same", HOLD)
        assert await close_code(ws) == 4409
    await assert_still_serving(hold_server, org.test_key)


async def test_operations_over_the_cap_are_refused(hold_server: LiveServer, org: TestOrg) -> None:
    async with connect(hold_server.ws_url) as ws:
        await init(ws, org.test_key)
        for op_id in ("1", "2", "3"):
            await subscribe(ws, op_id, HOLD)
        await subscribe(ws, "4", HOLD)
        refused = json.loads(await ws.recv())
        assert refused["id"] == "4" and refused["type"] == "error"
        assert "limit" in refused["payload"][0]["message"].lower()
        # Completing one frees a slot; the connection is still usable.
        await ws.send(json.dumps({"id": "1", "type": "complete"}))
        await subscribe(ws, "5", HOLD)
        seen = await _next_ids(ws, hold_server, org.test_key, {"2", "3", "5"})
        assert "1" not in seen and "4" not in seen
    await assert_still_serving(hold_server, org.test_key)


async def test_non_string_operation_name_over_websocket_is_refused_cleanly(
    server: LiveServer, org: TestOrg
) -> None:
    async with connect(server.ws_url) as ws:
        await init(ws, org.test_key)
        payload = {"query": "query A { viewer { livemode } }", "operationName": 5}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        try:
            message = json.loads(await ws.recv())
        except websockets.exceptions.ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 4400
        else:
            errors = (
                message["payload"]
                if message["type"] == "error"
                else message["payload"].get("errors")
            )
            assert errors, message
            assert all(e.get("extensions", {}).get("code") for e in errors), message
    await assert_still_serving(server, org.test_key)
