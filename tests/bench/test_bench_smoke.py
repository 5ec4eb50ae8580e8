"""The bench's parts work (no timings asserted: speed is measured by ``make bench``)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from api.settings import Settings
from bench import reference_asyncpg, reference_raw, reference_ws, report, seed, webhook_bodies
from bench.harness import Row, discover
from bench.servers import serve
from bench.subscribers import Subscribers
from providers.sandbox import SandboxConfig, SandboxProvider
from services.infra.database import Database
from services.organizations.api_keys import generate_key


def _requests(path: Path) -> list[tuple[dict[str, str], bytes]]:
    parsed = []
    for line in path.read_text().splitlines():
        header_text, body = line.split("\t", 1)
        headers = dict(pair.split(": ", 1) for pair in header_text.split("|"))
        parsed.append((headers, body.encode()))
    return parsed


def test_prepared_webhooks_verify_with_the_sandbox_secret(tmp_path: Path) -> None:
    secret = Settings().sandbox_webhook_secret
    provider = SandboxProvider(
        Database("sqlite+aiosqlite:///:memory:"),
        SandboxConfig(webhook_url="http://unused/webhooks/sandbox", webhook_secret=secret),
        is_postgres=False,
    )
    path = tmp_path / "bodies.txt"
    assert webhook_bodies.write(path, secret, 10, duplicates=False) == 10
    events = [provider.parse_webhook(h, b) for h, b in _requests(path)]
    assert len({event.id for event in events}) == 10
    assert {event.object_kind for event in events} == {"account", "transfer"}


def test_duplicate_file_repeats_each_event_once_in_the_same_block(tmp_path: Path) -> None:
    path = tmp_path / "dups.txt"
    count = webhook_bodies.DUPLICATE_BLOCK + 3
    assert webhook_bodies.write(path, "whsec_" + "QUJD" * 8, count, duplicates=True) == 2 * count
    ids = [json.loads(body)["id"] for _, body in _requests(path)]
    block = webhook_bodies.DUPLICATE_BLOCK
    assert ids[:block] == ids[block : 2 * block]
    assert len(set(ids)) == count


async def test_raw_reference_answers_like_the_viewer_query() -> None:
    transport = httpx.ASGITransport(app=reference_raw.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        answer = await client.post("/graphql", json={"query": "{ viewer { livemode } }"})
    assert answer.json() == {"data": {"viewer": {"livemode": False}}}


def test_websocket_reference_broadcasts_the_published_bytes() -> None:
    message = '{"type":"next","id":"1","payload":{"data":{}}}'
    with TestClient(reference_ws.app) as client, client.websocket_connect("/ws") as socket:
        assert client.get("/subscribers").json() == {"subscribers": 1}
        assert client.post("/publish", content=message).json() == {"sent": 1, "failed": 0}
        assert socket.receive_text() == message


def test_table_gives_ratio_to_the_reference_and_verdict() -> None:
    rows = [
        Row("1", "app", 300.0, 1.0, 2.0, reference="ref", target=0.25, server_cpu=1.0),
        Row("1", "ref", 1000.0, 0.5, 1.0, is_reference=True, server_cpu=1.0),
        Row("4 unique", "webhooks", 500.0, 3.0, 9.0),
    ]
    text = report.table(rows)
    assert "30.0%" in text and "≥ 25% met" in text and "base" in text
    assert report.ratio(rows[2], rows) is None


def test_cases_are_discovered_from_their_modules() -> None:
    cases = discover()
    assert {1, 2, 3, 4, 5} <= set(cases)
    assert all(case.number == number for number, case in cases.items())


@pytest.mark.postgres_only
async def test_asyncpg_reference_moves_money_once_and_refuses_overdrafts(
    private_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn = private_database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    key = generate_key(livemode=False).plaintext
    await reference_asyncpg.seed(dsn, {key: "org_bench"}, available=10_000)
    monkeypatch.setenv("BENCH_DATABASE_DSN", dsn)
    body = {"query": "mutation { requestPayout }", "variables": {"input": {"amount": 6_000}}}
    with TestClient(reference_asyncpg.app) as client:
        answers = [
            client.post("/graphql", json=body, headers={"x-api-key": key}).json() for _ in range(2)
        ]
        unknown = client.post("/graphql", json=body, headers={"x-api-key": "nope"}).json()
    first, second = (answer["data"]["requestPayout"] for answer in answers)
    assert first["payout"]["amount"] == 6_000 and first["userErrors"] == []
    assert second["payout"] is None
    assert second["userErrors"][0]["code"] == "INSUFFICIENT_FUNDS"
    assert unknown["data"] is None
    assert await reference_asyncpg.overdrafts(dsn) == 0


def test_seeded_payouts_are_settled_and_plausible() -> None:
    rows = seed.payout_rows(50)
    assert len({row.id for row in rows}) == 50
    assert {row.status for row in rows} <= {"IN_TRANSIT", "PAID", "FAILED", "CANCELED"}
    assert all((row.paid_at is not None) == (row.status == "PAID") for row in rows)
    assert all(row.amount > row.fee > 0 for row in rows)


async def test_subscriber_processes_count_every_broadcast_message(tmp_path: Path) -> None:
    with serve("ws", "bench.reference_ws:app", env={}, workdir=tmp_path) as server:
        url = server.url.replace("http://", "ws://") + "/ws"
        subscribers = Subscribers.of(url, 5, 2, key=None, query="")
        await subscribers.start()
        try:
            async with httpx.AsyncClient() as client:
                for index in range(3):
                    message = f'{{"payout":{{"id":"po_{index}","status":"PAID"}}}}'
                    answer = await client.post(f"{server.url}/publish", content=message)
                    assert answer.json() == {"sent": 5, "failed": 0}
                    delivery = await subscribers.delivered(f"po_{index}:PAID", timeout=30)
                    assert delivery is not None and delivery.processes == 2
        finally:
            await subscribers.stop()
    assert subscribers.ready == 2
    assert subscribers.sample == '{"payout":{"id":"po_0","status":"PAID"}}'
    assert subscribers.messages == 15
    assert dict(subscribers.counts) == {f"po_{index}:PAID": 5 for index in range(3)}
