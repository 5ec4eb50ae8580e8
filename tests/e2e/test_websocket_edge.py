"""graphql-transport-ws answers at the edge (issue 17, items 11, 18, 22 and 23): coded errors,
4400 for malformed messages instead of a dropped socket, a 4406 a browser can see, and an
authentication close whose reason says what is wrong, also when a key is revoked."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from services.infra.database import Database
from tests.conftest import make_org
from tests.support.live_server import LiveServer, start_server
from tests.support.orgs import TestOrg

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL: Any = ["graphql-transport-ws"]
SUBSCRIPTION = "subscription { balanceUpdated { __typename } }"


async def acknowledged(server: LiveServer, key: str) -> ClientConnection:
    ws = await websockets.connect(server.ws_url, subprotocols=PROTOCOL)
    await ws.send(json.dumps({"type": "connection_init", "payload": {"x-api-key": key}}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    return ws


async def close_of(ws: ClientConnection) -> tuple[int, str]:
    with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), timeout=5)
    assert closed.value.rcvd is not None, "the socket dropped without a close frame"
    return closed.value.rcvd.code, closed.value.rcvd.reason


@pytest.mark.parametrize(
    "message",
    [
        {"type": "subscribe", "id": "1", "payload": "x"},
        {"type": "subscribe", "id": "1", "payload": ["query"]},
        {"type": "subscribe", "id": "1", "payload": {"query": 5}},
        {"type": "subscribe", "id": "1", "payload": {"query": SUBSCRIPTION, "variables": "x"}},
        {"type": "subscribe", "id": 7, "payload": {"query": SUBSCRIPTION}},
    ],
)
async def test_malformed_subscribe_closes_with_4400_not_a_dropped_socket(
    server: LiveServer, org: TestOrg, message: dict[str, Any]
) -> None:
    ws = await acknowledged(server, org.test_key)
    await ws.send(json.dumps(message))
    code, reason = await close_of(ws)
    assert code == 4400, reason
    assert "subscribe" in reason


async def test_subscription_limit_error_has_a_code(server: LiveServer, org: TestOrg) -> None:
    ws = await acknowledged(server, org.test_key)
    try:
        for number in range(21):  # PAYOUTS_WS_MAX_OPERATIONS is 20
            await ws.send(
                json.dumps(
                    {"type": "subscribe", "id": str(number), "payload": {"query": SUBSCRIPTION}}
                )
            )
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout=5))
        assert message["type"] == "error" and message["id"] == "20", message
        [error] = message["payload"]
        assert error["extensions"]["code"] == "RATE_LIMITED", error
        assert "limit" in error["message"]
    finally:
        await ws.close()


async def test_legacy_graphql_ws_only_client_sees_4406(server: LiveServer) -> None:
    legacy: Any = ["graphql-ws"]
    async with websockets.connect(server.ws_url, subprotocols=legacy) as ws:
        # Selected, so a browser keeps the socket open long enough to see the close code.
        assert ws.subprotocol == "graphql-ws"
        code, reason = await close_of(ws)
    assert code == 4406
    assert "graphql-transport-ws" in reason


@pytest.mark.parametrize(
    ("payload", "said"),
    [
        ({"x-api-key": "ck_test_..."}, "not valid"),
        ({}, "needs a valid x-api-key"),
    ],
)
async def test_auth_failure_closes_4403_with_a_reason(
    server: LiveServer, payload: dict[str, str], said: str
) -> None:
    async with websockets.connect(server.ws_url, subprotocols=PROTOCOL) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        code, reason = await close_of(ws)
    assert code == 4403
    assert said in reason


GRAPHIQL_STYLE_CLIENT = """
import { createClient } from "graphql-ws";
import WebSocket from "ws";
// The GraphiQL page's own shouldRetry, read from the served boot script.
const source = await (await fetch(process.argv[2])).text();
const match = source.match(/var AUTH_CLOSE_CODES = \\[([0-9, ]+)\\]/);
const codes = match[1].split(",").map(Number);
let attempts = 0;
const client = createClient({
  url: process.argv[1],
  webSocketImpl: WebSocket,
  connectionParams: { "x-api-key": "ck_test_..." },
  shouldRetry: (e) => !(e && codes.includes(e.code)),
  retryWait: () => new Promise((r) => setTimeout(r, 200)),
  on: { opened: () => { attempts += 1; } },
});
client.subscribe({ query: "subscription { balanceUpdated { __typename } }" }, {
  next: () => {},
  error: (e) => { console.log(JSON.stringify({ code: e.code, reason: e.reason, attempts })); process.exit(0); },
  complete: () => process.exit(1),
});
"""


async def test_graphiql_ws_client_gives_up_at_once_on_auth_close(server: LiveServer) -> None:
    started = asyncio.get_running_loop().time()
    finished = await asyncio.to_thread(
        subprocess.run,
        [
            "node",
            "--input-type=module",
            "-e",
            GRAPHIQL_STYLE_CLIENT,
            server.ws_url,
            f"{server.url}/graphiql/assets/graphiql-boot.js",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert finished.returncode == 0, finished.stderr
    outcome = json.loads(finished.stdout)
    assert outcome["code"] == 4403 and "not valid" in outcome["reason"], outcome
    assert outcome["attempts"] == 1, outcome  # no retries
    assert asyncio.get_running_loop().time() - started < 10


@pytest.fixture(scope="module")
def second_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """Another server process on the same database."""
    with start_server(database_url, tmp_path_factory.mktemp("second") / "server.log") as live:
        yield live


async def test_revoked_key_closes_open_websockets_in_every_process(
    server: LiveServer, second_server: LiveServer, db: Database
) -> None:
    org = await make_org(db, "Revoked")
    sockets = [await acknowledged(live, org.test_key) for live in (server, second_server)]
    for ws in sockets:
        await ws.send(
            json.dumps({"type": "subscribe", "id": "live", "payload": {"query": SUBSCRIPTION}})
        )
    await asyncio.sleep(0.3)  # subscribed
    revoked = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "api.cli", "revoke-key", org.test_key],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert revoked.returncode == 0, revoked.stderr
    started = asyncio.get_running_loop().time()
    for ws in sockets:
        code, reason = await close_of(ws)
        assert code == 4403 and "revoked" in reason, (code, reason)
    assert asyncio.get_running_loop().time() - started < 1.5


@pytest.mark.postgres_only
async def test_revocation_reaches_other_processes_through_the_event_bus(
    database_url: str, tmp_path: Path, db: Database
) -> None:
    # The periodic check is slowed to a minute: only the bus can close the socket in time.
    with start_server(
        database_url, tmp_path / "server.log", PAYOUTS_WS_REVOCATION_CHECK_SECONDS="60"
    ) as slow_checker:
        org = await make_org(db, "Revoked over the bus")
        ws = await acknowledged(slow_checker, org.test_key)
        await ws.send(
            json.dumps({"type": "subscribe", "id": "live", "payload": {"query": SUBSCRIPTION}})
        )
        await asyncio.sleep(0.3)
        revoked = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "api.cli", "revoke-key", org.test_key],
            cwd=ROOT,
            env=slow_checker.env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert revoked.returncode == 0, revoked.stderr
        started = asyncio.get_running_loop().time()
        code, reason = await close_of(ws)
        assert code == 4403 and "revoked" in reason
        assert asyncio.get_running_loop().time() - started < 1.5
