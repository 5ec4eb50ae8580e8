"""Two server processes on one PostgreSQL database: a change made through one reaches a
WebSocket subscriber of the other (real app, bus and lifespan; throwaway live schema)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from gql import Client, gql
from gql.transport.websockets import WebsocketsTransport

from services.infra.database import Database
from services.infra.event_streams import decode_event_cursor, encode_event_cursor, log_head
from tests.support.graphql import GraphQLClient
from tests.support.live_app import start_live_test_server
from tests.support.live_schema import SUBSCRIBE
from tests.support.orgs import TestOrg

pytestmark = [pytest.mark.e2e, pytest.mark.postgres_only]

RENAME = "mutation ($name: String!) { renameOrganization(name: $name) }"


async def test_subscriber_on_one_process_hears_changes_made_through_another(
    database_url: str, db: Database, org: TestOrg, tmp_path: Path
) -> None:
    with (
        start_live_test_server(database_url, tmp_path / "first.log") as first,
        start_live_test_server(database_url, tmp_path / "second.log") as second,
    ):
        async with GraphQLClient(second.graphql_url, org.test_key) as http:
            await http.execute(RENAME, {"name": "Before subscribing"})
        start = await log_head(db, org.id)
        transport = WebsocketsTransport(
            url=first.ws_url,
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
            init_payload={"x-api-key": org.test_key},
        )
        async with (
            Client(transport=transport) as session,
            GraphQLClient(second.graphql_url, org.test_key) as http,
        ):
            request = gql(SUBSCRIBE)
            # gql sends the subscription on the first read, so the three changes below are
            # replayed from the log; the one after them can only arrive live, through the second
            # process's NOTIFY and the first process's listener.
            request.variable_values = {"after": encode_event_cursor(start)}
            updates = session.subscribe(request)
            names = [f"Changed on the second process {i}" for i in range(3)]
            for name in names:
                body = await http.execute(RENAME, {"name": name})
                assert body == {"data": {"renameOrganization": True}}
            received = [
                (await asyncio.wait_for(anext(updates), 10))["organizationUpdated"] for _ in names
            ]
            await http.execute(RENAME, {"name": "Live again"})
            live = (await asyncio.wait_for(anext(updates), 10))["organizationUpdated"]
            await updates.aclose()
    cursors = [decode_event_cursor(e["cursor"]) for e in [*received, live]]
    assert cursors == list(range(start + 1, start + 5))
    assert all(e["type"] == "organization.renamed" for e in received)
    assert live["organization"]["name"] == "Live again"
