"""Client sessions across server processes (PostgreSQL: the production shape): a token minted
by one process works on another with no shared state but the secret, and a revocation made
on one is honoured by the other within a second, over HTTP and on open WebSockets."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import websockets

from tests.support.client_sessions import WsPeer, document_id, mint, write_manifest
from tests.support.graphql import GraphQLClient, error_codes
from tests.support.live_server import start_server
from tests.support.orgs import TestOrg

pytestmark = [pytest.mark.e2e, pytest.mark.postgres_only]

BALANCE = "query Balance { balance { currency } }"
LIVE = "subscription Live { balanceUpdated { cursor } }"


async def test_revocation_reaches_every_process_within_a_second(
    database_url: str, tmp_path: Path, org: TestOrg
) -> None:
    manifest = write_manifest(tmp_path / "documents.json", [BALANCE, LIVE])
    with (
        start_server(
            database_url, tmp_path / "one.log", PAYOUTS_TRUSTED_DOCUMENTS=str(manifest)
        ) as one,
        start_server(
            database_url, tmp_path / "two.log", PAYOUTS_TRUSTED_DOCUMENTS=str(manifest)
        ) as two,
    ):
        token = await mint(one.graphql_url, org.test_key, ["PAYOUTS_READ"])
        body = {"documentId": document_id(BALANCE)}
        async with GraphQLClient(two.graphql_url, token) as on_two:
            assert (await on_two.http.post(two.graphql_url, json=body)).json()["data"]
            peer, ack = await WsPeer.open(two.ws_url, token)
            assert ack["type"] == "connection_ack"
            await peer.subscribe("live", {"query": "", "documentId": document_id(LIVE)})
            async with GraphQLClient(one.graphql_url, org.test_key) as key_on_one:
                revoked = await key_on_one.data(
                    "mutation { revokeClientSessions(input: {}) { revokedBefore } }"
                )
            assert revoked["revokeClientSessions"]["revokedBefore"]
            started = time.monotonic()
            while True:
                answer = (await on_two.http.post(two.graphql_url, json=body)).json()
                if error_codes(answer) == ["UNAUTHENTICATED"]:
                    break
                assert time.monotonic() - started < 1.0, "process two still accepts the token"
                await asyncio.sleep(0.05)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                async with asyncio.timeout(3):
                    while True:
                        await peer.receive()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
            assert time.monotonic() - started < 1.5
        # A process started after the revocation knows it too (read from the event log).
        with start_server(
            database_url, tmp_path / "three.log", PAYOUTS_TRUSTED_DOCUMENTS=str(manifest)
        ) as three:
            async with GraphQLClient(three.graphql_url, token) as on_three:
                late = (await on_three.http.post(three.graphql_url, json=body)).json()
            assert error_codes(late) == ["UNAUTHENTICATED"]
            fresh = await mint(one.graphql_url, org.test_key, ["PAYOUTS_READ"])
            async with GraphQLClient(three.graphql_url, fresh) as with_fresh:
                assert (await with_fresh.http.post(three.graphql_url, json=body)).json()["data"]
