"""GraphQL-over-WebSocket abuse against real server processes: the graphql-transport-ws close
codes, the message size cap, the operation cap, and the server still serving afterwards.

Duplicate ids and the operation cap need operations that stay open. The product schema has no
subscription field yet, so those two run against the real app plus one test-only subscription
(``tests/support/ws_test_app.py``, same view, settings and uvicorn WebSocket limits).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.support.live_server import (
    ROOT,
    LiveServer,
    free_port,
    server_env,
    start_server,
    stop,
    wait_until_ready,
)
from tests.support.orgs import TestOrg
from tests.support.sensitive import SERVER_LOGS

pytestmark = pytest.mark.e2e

PROTOCOL: Any = ["graphql-transport-ws"]
VIEWER = "{ viewer { livemode } }"
HOLD = "subscription { testHold }"


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
    """The app with a test-only subscription that stays open; at most 3 operations a socket."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("ws-hold") / "server.log"
    SERVER_LOGS.append(log_path)
    env = server_env(database_url, port, PAYOUTS_WS_MAX_OPERATIONS="3")
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.ws_test_app"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    live = LiveServer(f"http://127.0.0.1:{port}", port, process, log_path, env)
    try:
        wait_until_ready(live)
        yield live
    finally:
        stop(process)


async def test_duplicate_operation_id_closes_4409(hold_server: LiveServer, org: TestOrg) -> None:
    async with connect(hold_server.ws_url) as ws:
        await init(ws, org.test_key)
        await subscribe(ws, "same", HOLD)
        first = json.loads(await ws.recv())
        assert (first["id"], first["type"]) == ("same", "next")
        assert first["payload"]["data"] == {"testHold": 1}
        await subscribe(ws, "same", HOLD)
        assert await close_code(ws) == 4409
    await assert_still_serving(hold_server, org.test_key)


async def test_operations_over_the_cap_are_refused(hold_server: LiveServer, org: TestOrg) -> None:
    async with connect(hold_server.ws_url) as ws:
        await init(ws, org.test_key)
        for op_id in ("1", "2", "3"):
            await subscribe(ws, op_id, HOLD)
            assert json.loads(await ws.recv())["id"] == op_id
        await subscribe(ws, "4", HOLD)
        refused = json.loads(await ws.recv())
        assert refused["id"] == "4" and refused["type"] == "error"
        assert "limit" in refused["payload"][0]["message"].lower()
        # Completing one frees a slot; the connection is still usable.
        await ws.send(json.dumps({"id": "1", "type": "complete"}))
        await subscribe(ws, "5", HOLD)
        first = json.loads(await ws.recv())
        assert (first["id"], first["type"]) == ("5", "next")
        assert first["payload"]["data"] == {"testHold": 1}
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
