"""graphql-transport-ws rules of the GraphQL view, message by message with a raw WebSocket client:
ping/pong, init timeout, subscribing before the ack, and the cap on operations per connection.
The view is the product's; the subscription is the throwaway one of ``tests/support/live_schema``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import websockets

from services.infra.database import Database
from services.infra.event_bus import LiveBus
from tests.support.live import live_database, wait_until_live
from tests.support.live_schema import SUBSCRIBE, rename, serve_live_schema
from tests.support.orgs import TestOrg

pytestmark = pytest.mark.e2e

PROTOCOL: Any = ["graphql-transport-ws"]


@pytest.fixture
async def live(database_url: str) -> AsyncIterator[tuple[Database, LiveBus]]:
    async with live_database(database_url, "memory") as pair:
        yield pair


async def send(ws: Any, message: dict[str, Any]) -> None:
    await ws.send(json.dumps(message))


async def receive(ws: Any) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), 10)))


async def acknowledged(ws: Any, key: str) -> None:
    await send(ws, {"type": "connection_init", "payload": {"x-api-key": key}})
    assert (await receive(ws))["type"] == "connection_ack"


async def test_ping_is_answered_with_pong(live: tuple[Database, LiveBus], org: TestOrg) -> None:
    db, _ = live
    async with serve_live_schema(db) as url, websockets.connect(url, subprotocols=PROTOCOL) as ws:
        await acknowledged(ws, org.test_key)
        await send(ws, {"type": "ping"})
        assert (await receive(ws))["type"] == "pong"


async def test_connection_without_init_is_closed_after_the_timeout(
    live: tuple[Database, LiveBus],
) -> None:
    db, _ = live
    async with (
        serve_live_schema(db, ws_init_timeout_seconds=0.3) as url,
        websockets.connect(url, subprotocols=PROTOCOL) as ws,
    ):
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4408


async def test_subscribe_before_the_ack_is_refused(live: tuple[Database, LiveBus]) -> None:
    db, _ = live
    async with serve_live_schema(db) as url, websockets.connect(url, subprotocols=PROTOCOL) as ws:
        await send(ws, {"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}})
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_operations_beyond_the_cap_are_refused_and_the_others_keep_working(
    live: tuple[Database, LiveBus], org: TestOrg
) -> None:
    db, bus = live
    async with (
        serve_live_schema(db, ws_max_operations=2) as url,
        websockets.connect(url, subprotocols=PROTOCOL) as ws,
    ):
        await acknowledged(ws, org.test_key)
        for op_id in ("1", "2", "3"):
            await send(ws, {"id": op_id, "type": "subscribe", "payload": {"query": SUBSCRIBE}})
        refused = await receive(ws)
        assert refused["id"] == "3" and refused["type"] == "error"
        await wait_until_live(bus, org.id, 2)
        assert len(bus.hub.mailboxes(org.id)) == 2
        await rename(db, org.id, "Still live")
        delivered = [await receive(ws), await receive(ws)]
    assert sorted(m["id"] for m in delivered) == ["1", "2"]
    assert all(m["type"] == "next" for m in delivered)
    names = {m["payload"]["data"]["organizationUpdated"]["organization"]["name"] for m in delivered}
    assert names == {"Still live"}


async def test_shared_next_frames_are_the_text_each_message_encodes_to(
    live: tuple[Database, LiveBus], org: TestOrg
) -> None:
    """Subscribers sharing one result get its payload text once encoded, behind their own id:
    byte for byte what encoding their whole message gives, ids that need escaping included."""
    db, bus = live
    ids = ["1", 'quote " and \\ back', "é \u2028 \U0001f600", "</script>"]
    async with (
        serve_live_schema(db) as url,
        websockets.connect(url, subprotocols=PROTOCOL) as first,
        websockets.connect(url, subprotocols=PROTOCOL) as second,
    ):
        await acknowledged(first, org.test_key)
        await acknowledged(second, org.test_key)
        sockets = {op_id: (first if index % 2 else second) for index, op_id in enumerate(ids)}
        for op_id, ws in sockets.items():
            await send(ws, {"id": op_id, "type": "subscribe", "payload": {"query": SUBSCRIBE}})
        await wait_until_live(bus, org.id, len(ids))
        await rename(db, org.id, 'Shared "text" é')
        frames = [await asyncio.wait_for(ws.recv(), 10) for ws in (first, first, second, second)]
    by_id = {json.loads(frame)["id"]: frame for frame in frames}
    assert sorted(by_id) == sorted(ids)
    payloads = set()
    for op_id, frame in by_id.items():
        message = json.loads(frame)
        assert message["type"] == "next"
        assert message["payload"]["data"]["organizationUpdated"]["organization"]["name"] == (
            'Shared "text" é'
        )
        encoded = orjson.dumps({"id": op_id, "type": "next", "payload": message["payload"]})
        assert frame == encoded.decode()
        payloads.add(frame[frame.index(',"type"') :])
    assert len(payloads) == 1  # one payload, four ids
