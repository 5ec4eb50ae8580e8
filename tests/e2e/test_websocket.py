"""GraphQL over WebSocket (graphql-transport-ws) against the running server, with gql."""

from __future__ import annotations

import json

import pytest
import websockets
from gql import Client, gql
from gql.transport.exceptions import TransportClosed, TransportError
from gql.transport.websockets import WebsocketsTransport

from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg

pytestmark = pytest.mark.e2e

VIEWER = gql("{ viewer { livemode organization { id } } }")
PROTOCOL = [WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL]  # "graphql-transport-ws"


async def test_query_over_websocket_with_connection_init_key(
    server: LiveServer, org: TestOrg
) -> None:
    transport = WebsocketsTransport(
        url=server.ws_url, subprotocols=PROTOCOL, init_payload={"x-api-key": org.live_key}
    )
    async with Client(transport=transport) as session:
        result = await session.execute(VIEWER)
    assert result == {"viewer": {"livemode": True, "organization": {"id": org.id}}}


async def test_websocket_with_upgrade_header_key(server: LiveServer, org: TestOrg) -> None:
    transport = WebsocketsTransport(
        url=server.ws_url, subprotocols=PROTOCOL, headers={"x-api-key": org.test_key}
    )
    async with Client(transport=transport) as session:
        result = await session.execute(VIEWER)
    assert result["viewer"]["livemode"] is False


async def test_websocket_with_bad_key_is_rejected(server: LiveServer) -> None:
    transport = WebsocketsTransport(
        url=server.ws_url, subprotocols=PROTOCOL, init_payload={"x-api-key": "ck_test_bad"}
    )
    with pytest.raises((TransportError, TransportClosed, ConnectionError)):
        async with Client(transport=transport) as session:
            await session.execute(VIEWER)


async def test_legacy_graphql_ws_protocol_is_refused(server: LiveServer) -> None:
    async with websockets.connect(server.ws_url, subprotocols=["graphql-ws"]) as ws:  # type: ignore[list-item]
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4406


async def test_cross_site_websocket_origin_is_refused(server: LiveServer, org: TestOrg) -> None:
    with pytest.raises(websockets.exceptions.InvalidStatus):
        async with websockets.connect(
            server.ws_url,
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            origin="https://evil.example",  # type: ignore[arg-type]
        ) as ws:
            await ws.recv()
    refusal = next(line for line in server.log_text().splitlines() if "evil.example" in line)
    assert "PAYOUTS_CORS_ORIGINS" in refusal and "allowed_origins" not in refusal
