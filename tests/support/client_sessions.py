"""Client sessions and trusted documents in tests: minting, manifests, a raw graphql-ws peer."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import websockets

from tests.support.graphql import GraphQLClient

ALL_SCOPES = ["PAYOUTS_READ", "PAYOUTS_WRITE", "ACCOUNT_READ", "ACCOUNT_WRITE"]
MINT = """mutation ($input: CreateClientSessionInput!) {
  createClientSession(input: $input) {
    clientSession { token expiresAt scopes livemode }
    userErrors { code message field }
  }
}"""


def document_id(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def write_manifest(path: Path, documents: Iterable[str]) -> Path:
    path.write_text(json.dumps({f"sha256:{document_id(text)}": text for text in documents}))
    return path


async def mint(
    graphql_url: str,
    key: str,
    scopes: list[str] | None = None,
    expires_in_seconds: int = 900,
) -> str:
    async with GraphQLClient(graphql_url, key) as client:
        data = await client.data(
            MINT,
            {"input": {"scopes": scopes or ALL_SCOPES, "expiresInSeconds": expires_in_seconds}},
        )
    payload = data["createClientSession"]
    assert payload["userErrors"] == [], payload
    token: str = payload["clientSession"]["token"]
    return token


class WsPeer:
    """graphql-transport-ws spoken by hand: payloads a library would not send (documentId
    without query), and the close code and reason the server chose."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    @classmethod
    async def open(
        cls, ws_url: str, token: str, origin: str | None = None
    ) -> tuple[WsPeer, dict[str, Any]]:
        connection = await websockets.connect(
            ws_url,
            subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
            origin=websockets.Origin(origin) if origin else None,
        )
        peer = cls(connection)
        await peer.send({"type": "connection_init", "payload": {"x-api-key": token}})
        return peer, await peer.receive()

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def receive(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await self.connection.recv())
        return message

    async def subscribe(self, operation_id: str, payload: dict[str, Any]) -> None:
        await self.send({"id": operation_id, "type": "subscribe", "payload": payload})

    async def close(self) -> None:
        await self.connection.close()
