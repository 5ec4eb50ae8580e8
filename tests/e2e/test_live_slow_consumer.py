"""A subscriber that stops reading while 2,000 events happen: the server holds at most its
mailbox's capacity for it (then resyncs it from the event log), and once it reads again it
gets every event, once, in order."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import websockets

from models import Event
from services.infra.database import Database
from services.infra.event_streams import decode_event_cursor, encode_event_cursor, log_head
from tests.conftest import make_org
from tests.support.graphql import GraphQLClient
from tests.support.live_client import metric, wait_for_open_subscriptions
from tests.support.live_server import start_server
from tests.support.payouts import credit

pytestmark = pytest.mark.e2e

_events = Event.__table__  # type: ignore[attr-defined]

CAPACITY = 32
CREDITS = 1_000  # two balance events each (pending, then released): 2,000 events
SUBSCRIPTIONS = 2
# Two subscriptions, each asking for 25 copies of the balance: every event puts about 5 KB on
# the connection, so the socket buffers between the server and a reader that stopped reading
# (the kernel lets a loopback send buffer grow to 4 MB) fill long before the 2,000th event.
_COPIES = " ".join(
    f"b{i}: balance {{ available pending inTransit paidOut currency livemode }}" for i in range(25)
)
QUERY = f"subscription {{ balanceUpdated {{ cursor type {_COPIES} }} }}"


async def _credit_many(url: str, key: str, count: int) -> None:
    """One after the other: concurrent commits may publish out of order, which also resyncs
    the subscriber (a missing sequence number) and would hide the overflow this test watches."""
    async with GraphQLClient(url, key) as http:
        for _ in range(count):
            await credit(http, 1)


def _small_socket() -> socket.socket:
    """A client socket with a small receive buffer: a reader that stops soon pushes back."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return sock


async def test_slow_consumer_stays_within_its_bound_and_then_gets_every_event(
    private_database_url: str, tmp_path: Path
) -> None:
    db = Database(private_database_url)
    try:
        org = await make_org(db, "Slow reader")
        with start_server(
            private_database_url,
            tmp_path / "server.log",
            PAYOUTS_SUBSCRIPTION_QUEUE_SIZE=str(CAPACITY),
            # A reader that reads nothing cannot answer keepalive pings either.
            PAYOUTS_WS_PING_INTERVAL_SECONDS="300",
        ) as server:
            async with GraphQLClient(server.graphql_url, org.test_key) as http:
                await credit(http, 1)  # so that there is a cursor to subscribe after
            start = await log_head(db, org.id)
            query = QUERY.replace(
                "balanceUpdated {", f'balanceUpdated(after: "{encode_event_cursor(start)}") {{'
            )
            sock = _small_socket()
            sock.connect(("127.0.0.1", server.port))
            async with websockets.connect(
                server.ws_url,
                subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
                sock=sock,
                max_size=None,
                max_queue=1,
                ping_interval=None,
                compression=None,  # the repeated balances would compress to almost nothing
            ) as ws:
                await ws.send(
                    json.dumps({"type": "connection_init", "payload": {"x-api-key": org.test_key}})
                )
                assert json.loads(await ws.recv())["type"] == "connection_ack"
                for op in range(SUBSCRIPTIONS):
                    subscribe = {"id": str(op), "type": "subscribe", "payload": {"query": query}}
                    await ws.send(json.dumps(subscribe))
                await wait_for_open_subscriptions(server, SUBSCRIPTIONS)
                rss0 = _rss(server.process.pid)
                # The reader reads nothing while all 2,000 events happen.
                await _credit_many(server.graphql_url, org.test_key, CREDITS)
                head = await log_head(db, org.id)
                expected = await _balance_seqs(db, org.id, start, head)
                rss1 = _rss(server.process.pid)
                peak = await metric(server, "payouts_live_mailbox_peak_events")
                overflows = await metric(server, "payouts_live_mailbox_overflows_total")
                seqs = await _read_until(ws, expected[-1])
    finally:
        await db.dispose()
    # Two balance events per credit (pending, then released); the log also holds the others
    # a credit writes (payout.available for outbound webhooks), which this stream filters out.
    assert len(expected) == 2 * CREDITS
    assert 1 <= peak <= CAPACITY
    assert overflows >= 1  # it fell behind, and was resynced rather than buffered
    # 2,000 events x 2 subscriptions x 5 KB = 20 MB would have piled up in an unbounded queue.
    assert rss1 - rss0 < 16 * 1024 * 1024, (rss0, rss1)
    for op in range(SUBSCRIPTIONS):  # every event, once, in order, on every subscription
        assert seqs[str(op)] == expected, op


async def _read_until(ws: Any, last: int) -> dict[str, list[int]]:
    seqs: dict[str, list[int]] = {str(op): [] for op in range(SUBSCRIPTIONS)}
    async with asyncio.timeout(90):
        while any(not got or got[-1] < last for got in seqs.values()):
            message = json.loads(await ws.recv())
            assert message["type"] == "next", message
            event = message["payload"]["data"]["balanceUpdated"]
            assert event["b0"] == event["b24"]
            seqs[message["id"]].append(decode_event_cursor(event["cursor"]))
    return seqs


async def _balance_seqs(db: Database, organization_id: str, start: int, head: int) -> list[int]:
    async with db.read() as session:
        rows = await session.scalars(
            sa.select(_events.c.seq)
            .where(
                _events.c.organization_id == organization_id,
                _events.c.object_type == "balance",
                _events.c.seq > start,
                _events.c.seq <= head,
            )
            .order_by(_events.c.seq)
        )
        return list(rows)


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")
