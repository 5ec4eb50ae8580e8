"""The server under hostile clients and failing parts (issue 17, items 9, 10, 14, 16, 24, 26):
client mistakes logged as throttled client errors, slow bodies timed out, the database going
away answered with 503 + Retry-After and recovered from, ``serve --workers`` refused where
events would be lost, and the idempotency stale-claim window set from the environment."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import websockets
from sqlalchemy.engine import make_url

from api.settings import Settings
from models import IdempotencyRecord
from models.base import utcnow
from resolvers.plans.mutations import CreatePlanGroupInput
from resolvers.snapshot import dump
from services import idempotency
from services.infra.database import Database
from tests.conftest import make_org
from tests.support.graphql import GraphQLClient, error_codes
from tests.support.live_server import ROOT, LiveServer, free_port, server_env, start_server
from tests.support.orgs import TestOrg
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def strict_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A server of this module's own: a 1 s body deadline and a 1 s idempotency stale window."""
    log_path = tmp_path_factory.mktemp("strict") / "server.log"
    with start_server(
        database_url,
        log_path,
        PAYOUTS_REQUEST_BODY_TIMEOUT_SECONDS="1",
        PAYOUTS_IDEMPOTENCY_STALE_CLAIM_SECONDS="1",
    ) as live:
        yield live


def log_records(server: LiveServer) -> list[dict[str, object]]:
    records = []
    for line in server.log_text().splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
    return records


async def send_partial_body(server: LiveServer, *, then_close: bool) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        b"POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b'content-length: 100\r\n\r\n{"query": '
    )
    await writer.drain()
    if then_close:
        writer.close()
        await writer.wait_closed()
        return b""
    try:
        return await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()


async def test_slow_body_is_timed_out_with_408(strict_server: LiveServer) -> None:
    started = asyncio.get_running_loop().time()
    answer = await send_partial_body(strict_server, then_close=False)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert asyncio.get_running_loop().time() - started < 5


async def test_client_mistakes_are_throttled_client_errors_without_traceback(
    strict_server: LiveServer, org: TestOrg
) -> None:
    async with GraphQLClient(strict_server.graphql_url, org.test_key) as client:
        for _ in range(30):
            for body in (b"null", b"\xff", b"[" * 5000 + b"]" * 5000):
                response = await client.http.post(
                    strict_server.graphql_url,
                    content=body,
                    headers={"content-type": "application/json"},
                )
                assert response.status_code == 400
    for _ in range(5):
        await send_partial_body(strict_server, then_close=True)
    async with httpx.AsyncClient() as http:  # the lines above are written by now
        await http.get(f"{strict_server.url}/healthz")
    await asyncio.sleep(0.5)
    records = log_records(strict_server)
    assert not [r for r in records if r["level"] in ("ERROR", "CRITICAL")], records[-5:]
    assert not [r for r in records if "exception" in r], "a client mistake logged a traceback"
    client_errors = [r for r in records if r["logger"] == "payouts.client_errors"]
    assert client_errors and all(r["level"] == "WARNING" for r in client_errors)
    assert len(client_errors) <= 25, len(client_errors)  # 90+ mistakes, throttled per kind


async def test_stale_idempotency_claim_window_is_a_setting(
    server: LiveServer, strict_server: LiveServer, db: Database, org: TestOrg
) -> None:
    # A claim left IN_PROGRESS by a process killed mid-request, 5 s ago.
    key = f"crashed-{uuid.uuid4().hex}"
    name = f"Group {key[-6:]}"
    given = CreatePlanGroupInput(name=name, idempotency_key=key)
    request = {k: v for k, v in dump(given).items() if k != "idempotency_key"}
    fingerprint = idempotency.fingerprint(Settings().secret_key, "createPlanGroup", request)
    scope = idempotency.Scope(org.id, False, key)
    assert await idempotency.claim(db, scope, "createPlanGroup", fingerprint) is None
    async with db.transaction() as session:
        await session.execute(
            sa.update(IdempotencyRecord)
            .where(IdempotencyRecord.key == key)  # type: ignore[arg-type]
            .values(locked_at=utcnow() - timedelta(seconds=5))
        )
    mutation = (
        "mutation($i: CreatePlanGroupInput!) { createPlanGroup(input: $i) "
        "{ planGroup { name } userErrors { code } } }"
    )
    variables = {"i": {"name": name, "idempotencyKey": key}}
    async with GraphQLClient(server.graphql_url, org.test_key) as default_window:
        waiting = (await default_window.data(mutation, variables))["createPlanGroup"]
    assert waiting["userErrors"] == [{"code": "IDEMPOTENCY_IN_PROGRESS"}]  # 60 s by default
    async with GraphQLClient(strict_server.graphql_url, org.test_key) as one_second:
        taken_over = (await one_second.data(mutation, variables))["createPlanGroup"]
    assert taken_over == {"planGroup": {"name": name}, "userErrors": []}


def test_serve_with_workers_on_the_in_process_bus_is_refused(tmp_path: Path) -> None:
    env = server_env(f"sqlite+aiosqlite:///{tmp_path / 'workers.db'}", free_port())
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its workers, if it starts any, go with it
    )
    try:
        _, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        pytest.fail("serve --workers 2 started on SQLite with the in-process bus")
    finished = subprocess.CompletedProcess(process.args, process.returncode, "", stderr)
    assert finished.returncode == 2
    assert "--workers 2" in finished.stderr and "event bus" in finished.stderr
    assert "PostgreSQL" in finished.stderr


@pytest.fixture
async def proxied_server(
    private_database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[LiveServer, TcpProxy]]:
    """A server whose database connections all pass through a proxy the test can cut."""
    url = make_url(private_database_url)
    async with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        with ExitStack() as stack:
            # Started from a thread: the proxy serves the server's connections on this loop.
            live = await asyncio.to_thread(
                stack.enter_context,
                start_server(proxied, tmp_path / "server.log", PAYOUTS_DB_POOL_SIZE="2"),
            )
            try:
                yield live, proxy
            finally:
                await proxy.restore()
                await asyncio.to_thread(stack.close)


@pytest.mark.postgres_only
async def test_database_outage_is_503_with_retry_after_then_recovers(
    proxied_server: tuple[LiveServer, TcpProxy], private_database_url: str
) -> None:
    server, proxy = proxied_server
    admin = Database(private_database_url)
    try:
        org = await _make_org(admin)
    finally:
        await admin.dispose()
    async with GraphQLClient(server.graphql_url, org) as client:
        assert (await client.data("{ viewer { livemode } }"))["viewer"]["livemode"] is False
        await proxy.cut()
        for _ in range(3):
            # Something the database must answer: the key itself may come from the key cache.
            response = await client.raw("{ balance { available } }")
            assert response.status_code in (200, 503), response.text
            assert response.headers["content-type"].startswith("application/json")
            body = response.json()
            assert error_codes(body) == ["INTERNAL"], body
            assert body["errors"][0]["extensions"]["requestId"]
            if response.status_code == 503:
                assert int(response.headers["retry-after"]) >= 1
        # A WebSocket's key lookup fails too: a clean close the client can retry on, no drop.
        protocol: Any = ["graphql-transport-ws"]
        async with websockets.connect(server.ws_url, subprotocols=protocol) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {"x-api-key": org}}))
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
        assert "unavailable" in closed.value.rcvd.reason
        await proxy.restore()
        for _ in range(50):
            response = await client.raw("{ viewer { livemode } }")
            if response.status_code == 200 and not response.json().get("errors"):
                break
            await asyncio.sleep(0.2)
        else:
            pytest.fail(f"the server did not recover: {response.text}")


async def _make_org(db: Database) -> str:
    return (await make_org(db, "Outage")).test_key


@pytest.mark.postgres_only
async def test_database_outage_backs_off_the_background_loops(
    proxied_server: tuple[LiveServer, TcpProxy],
) -> None:
    server, proxy = proxied_server
    before = len(log_records(server))
    await proxy.cut()
    await asyncio.sleep(6)
    records = log_records(server)[before:]
    await proxy.restore()
    for logger in ("providers.sandbox.outbox", "api.jobs"):
        lines = [r for r in records if r["logger"] == logger]
        tracebacks = [r for r in lines if "exception" in r]
        # Polling every 0.1 s without backoff logged ~60 tracebacks in 6 s.
        assert len(lines) <= 8 * 2, (logger, len(lines))
        assert len(tracebacks) <= 2, (logger, len(tracebacks))


async def test_readyz_says_migrations_pending_for_a_reachable_empty_database(
    private_database_url: str, tmp_path: Path
) -> None:
    # `serve` refuses to start on a database behind its migrations: take them away under a
    # running server (a database restored from before the schema, say).
    with start_server(private_database_url, tmp_path / "server.log") as live:
        database = Database(private_database_url)
        try:
            async with database.transaction() as session:
                await session.execute(sa.text("DROP TABLE alembic_version"))
        finally:
            await database.dispose()
        async with httpx.AsyncClient() as http:
            response = await http.get(f"{live.url}/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "migrations pending", body
    assert body["migrations"]["current"] is None and body["migrations"]["head"]
