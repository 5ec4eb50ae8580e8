"""``live_events`` behind the real GraphQL view (graphql-transport-ws, ``connection_init`` auth)
on a real uvicorn server, driven by gql; the schema is the throwaway one of
``tests/support/live_schema.py``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from gql import Client, gql
from gql.transport.websockets import WebsocketsTransport

from services.infra.database import Database
from services.infra.event_bus import LiveBus
from tests.support.live import live_database, wait_until_live
from tests.support.live_schema import SUBSCRIBE, rename, serve_live_schema
from tests.support.live_server import ROOT
from tests.support.orgs import TestOrg

pytestmark = pytest.mark.e2e

NODE_CLIENT = ROOT / "tests" / "support" / "graphql_ws_client.mjs"
PROTOCOL = [WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL]  # "graphql-transport-ws"


@pytest.fixture
async def live(database_url: str) -> AsyncIterator[tuple[Database, LiveBus]]:
    async with live_database(database_url, "memory") as pair:
        yield pair


async def test_websocket_subscriber_gets_fresh_objects_and_resumes_with_its_cursor(
    live: tuple[Database, LiveBus], org: TestOrg
) -> None:
    db, bus = live
    async with serve_live_schema(db) as url:
        transport = WebsocketsTransport(
            url=url, subprotocols=PROTOCOL, init_payload={"x-api-key": org.test_key}
        )
        async with Client(transport=transport) as session:
            updates = session.subscribe(gql(SUBSCRIBE))
            first = asyncio.create_task(anext(updates))
            await wait_until_live(bus, org.id)
            await rename(db, org.id, "Live one")
            await rename(db, org.id, "Not in test mode", livemode=True)
            one = (await asyncio.wait_for(first, 10))["organizationUpdated"]
            await updates.aclose()
        assert one["organization"] == {"id": org.id, "name": "Live one"}
        for _ in range(100):  # the server drops the subscriber once the client is gone
            if not bus.hub.mailboxes(org.id):
                break
            await asyncio.sleep(0.05)
        assert bus.hub.mailboxes(org.id) == []

        await rename(db, org.id, "Missed while away")
        transport = WebsocketsTransport(
            url=url, subprotocols=PROTOCOL, init_payload={"x-api-key": org.test_key}
        )
        async with Client(transport=transport) as session:
            resume = gql(SUBSCRIBE)
            resume.variable_values = {"after": one["cursor"]}
            updates = session.subscribe(resume)
            missed = (await asyncio.wait_for(anext(updates), 10))["organizationUpdated"]
            await updates.aclose()
    assert missed["type"] == "organization.renamed"
    assert missed["organization"]["name"] == "Missed while away"


async def test_graphql_ws_npm_client_receives_a_live_update(
    live: tuple[Database, LiveBus], org: TestOrg
) -> None:
    db, bus = live
    async with serve_live_schema(db) as url:
        node = await asyncio.create_subprocess_exec(
            "node",
            str(NODE_CLIENT),
            url,
            org.test_key,
            "1",
            SUBSCRIBE,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            assert (await asyncio.wait_for(node.stdout.readline(), 20)).strip() == b"ready"  # type: ignore[union-attr]
            await wait_until_live(bus, org.id)
            await rename(db, org.id, "Seen by graphql-ws")
            out, err = await asyncio.wait_for(node.communicate(), 20)
        finally:
            if node.returncode is None:
                node.kill()
                await node.wait()
    assert node.returncode == 0, err.decode()
    (line,) = out.decode().splitlines()
    event = json.loads(line)["data"]["organizationUpdated"]
    assert event["type"] == "organization.renamed"
    assert event["organization"] == {"id": org.id, "name": "Seen by graphql-ws"}
