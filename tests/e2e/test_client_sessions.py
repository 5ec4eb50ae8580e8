"""Client sessions and trusted documents against a real server (SPEC §3.12): minting, scopes,
every persisted-document form and error, expiry, tampering and revocation, over HTTP and
graphql-ws."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets

from services.infra.database import Database
from tests.support.client_sessions import (
    ALL_SCOPES,
    MINT,
    WsPeer,
    document_id,
    mint,
    write_manifest,
)
from tests.support.graphql import GraphQLClient, error_codes
from tests.support.live_server import LiveServer, start_server
from tests.support.orgs import TestOrg
from tests.support.payout_setup import insert_verified_payout_account
from tests.support.payouts import credit

pytestmark = pytest.mark.e2e

VIEWER = "query Viewer { viewer { livemode organization { id } } }"
BALANCE = "query Balance { balance { available currency } }"
PAYOUTS = (
    "query Payouts($first: Int!, $after: String) "
    "{ payouts(first: $first, after: $after) { edges { node { id status } } } }"
)
REQUEST = (
    "mutation Request($input: RequestPayoutInput!) "
    "{ requestPayout(input: $input) { payout { id status } userErrors { code field } } }"
)
PLANS = "query Plans { plans { edges { cursor } } }"
ACCOUNT = "query Account { payoutAccount { id status } }"
NODE = "query Node($id: ID!) { node(id: $id) { id __typename } }"
BALANCE_UPDATED = "subscription Live($after: String) { balanceUpdated(after: $after) { cursor balance { available } } }"
ACCOUNT_UPDATED = "subscription AccountLive { payoutAccountUpdated { cursor } }"
TRUSTED = [
    VIEWER,
    BALANCE,
    PAYOUTS,
    REQUEST,
    PLANS,
    ACCOUNT,
    NODE,
    BALANCE_UPDATED,
    ACCOUNT_UPDATED,
]
GRAPHQL_RESPONSE = "application/graphql-response+json"


@pytest.fixture(scope="module")
def trusted_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    directory = tmp_path_factory.mktemp("trusted")
    manifest = write_manifest(directory / "persisted-documents.json", TRUSTED)
    with start_server(
        database_url, directory / "server.log", PAYOUTS_TRUSTED_DOCUMENTS=str(manifest)
    ) as live:
        yield live


def by_id(text: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"documentId": f"sha256:{document_id(text)}", "variables": variables or {}}


async def post(
    server: LiveServer, credential: str | None, body: dict[str, Any], accept: str | None = None
) -> httpx.Response:
    headers = {"authorization": f"Bearer {credential}"} if credential else {}
    if accept:
        headers["accept"] = accept
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(server.graphql_url, json=body, headers=headers)


async def test_create_client_session(trusted_server: LiveServer, org: TestOrg) -> None:
    async with GraphQLClient(trusted_server.graphql_url, org.test_key) as client:
        data = await client.data(MINT, {"input": {"scopes": ["PAYOUTS_READ"]}})
        session = data["createClientSession"]["clientSession"]
        assert session["token"].startswith("cs_test_")
        assert session["scopes"] == ["PAYOUTS_READ"] and session["livemode"] is False
        from datetime import datetime

        lifetime = datetime.fromisoformat(session["expiresAt"]).timestamp() - time.time()
        assert 890 < lifetime <= 900
        for seconds in (9, 3601, -1):
            data = await client.data(
                MINT, {"input": {"scopes": ["PAYOUTS_READ"], "expiresInSeconds": seconds}}
            )
            payload = data["createClientSession"]
            assert payload["clientSession"] is None
            assert payload["userErrors"] == [
                {
                    "code": "VALIDATION_ERROR",
                    "message": "expiresInSeconds must be from 10 to 3600",
                    "field": ["input", "expiresInSeconds"],
                }
            ]
        empty = await client.data(MINT, {"input": {"scopes": []}})
        assert empty["createClientSession"]["userErrors"][0]["field"] == ["input", "scopes"]
    live = await mint(trusted_server.graphql_url, org.live_key)
    assert live.startswith("cs_live_")


async def test_a_token_acts_as_its_organization_and_mode(
    trusted_server: LiveServer, org: TestOrg
) -> None:
    token = await mint(trusted_server.graphql_url, org.live_key, ["PAYOUTS_READ"])
    response = await post(trusted_server, token, by_id(VIEWER))
    assert response.status_code == 200
    assert (response.json()["data"] or {}).get("viewer") == {
        "livemode": True,
        "organization": {"id": org.id},
    }, response.text


async def test_every_persisted_document_form(trusted_server: LiveServer, org: TestOrg) -> None:
    token = await mint(trusted_server.graphql_url, org.test_key, ["PAYOUTS_READ"])
    expected = {"balance": {"available": 0, "currency": "usd"}}
    plain_id = document_id(BALANCE)
    bodies: list[dict[str, Any]] = [
        {"documentId": f"sha256:{plain_id}"},
        {"documentId": plain_id},
        {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": plain_id}}},
        {"documentId": plain_id, "query": BALANCE},  # both, agreeing
    ]
    for body in bodies:
        response = await post(trusted_server, token, body)
        assert response.json() == {"data": expected} | {
            "extensions": response.json()["extensions"]
        }, body
    async with httpx.AsyncClient() as http:
        for params in (
            {"documentId": f"sha256:{plain_id}"},
            {"extensions": json.dumps({"persistedQuery": {"version": 1, "sha256Hash": plain_id}})},
        ):
            got = await http.get(
                trusted_server.graphql_url,
                params=params,
                headers={"x-api-key": token, "accept": "application/json"},
            )
            assert got.status_code == 200, got.text
            assert got.json()["data"] == expected


async def test_persisted_document_errors(trusted_server: LiveServer, org: TestOrg) -> None:
    token = await mint(trusted_server.graphql_url, org.test_key, ALL_SCOPES)
    unknown = await post(
        trusted_server, token, {"documentId": document_id("{ viewer { livemode } }")}
    )
    assert error_codes(unknown.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    for junk in ("sha256:", "nope", "sha256:" + "z" * 64, "x" * 10_000):
        response = await post(trusted_server, token, {"documentId": junk})
        assert response.status_code < 500
        assert error_codes(response.json()) == ["PERSISTED_QUERY_NOT_FOUND"], junk
    for junk_body in ({"documentId": 12}, {"extensions": {"persistedQuery": "abc"}}):
        response = await post(trusted_server, token, junk_body)
        assert response.status_code < 500
        assert error_codes(response.json()) == ["BAD_USER_INPUT"], junk_body
    mismatch = await post(
        trusted_server, token, {"documentId": document_id(BALANCE), "query": VIEWER}
    )
    assert error_codes(mismatch.json()) == ["BAD_USER_INPUT"]
    # A client session must name a document; even the text of a listed one is refused.
    for query in (BALANCE, "{ viewer { livemode } }"):
        raw = await post(trusted_server, token, {"query": query})
        assert error_codes(raw.json()) == ["PERSISTED_QUERY_ID_REQUIRED"]
    # API keys run anything in the default mode.
    async with GraphQLClient(trusted_server.graphql_url, org.test_key) as client:
        assert (await client.data("{ viewer { livemode } }"))["viewer"]["livemode"] is False
    keyed = await post(trusted_server, org.test_key, by_id(BALANCE))
    assert keyed.json()["data"]["balance"]["currency"] == "usd"
    # Without any credential: still unauthenticated, trusted or not.
    anonymous = await post(trusted_server, None, by_id(BALANCE))
    assert error_codes(anonymous.json()) == ["UNAUTHENTICATED"]


async def test_fields_outside_the_scopes_are_refused_whole(
    trusted_server: LiveServer, org: TestOrg, db: Database
) -> None:
    account_only = await mint(trusted_server.graphql_url, org.test_key, ["ACCOUNT_READ"])
    refused = await post(trusted_server, account_only, by_id(BALANCE), accept=GRAPHQL_RESPONSE)
    assert refused.status_code == 403
    assert error_codes(refused.json()) == ["FORBIDDEN"]
    assert "data" not in refused.json() or refused.json()["data"] is None
    plans = await post(
        trusted_server, await mint(trusted_server.graphql_url, org.test_key), by_id(PLANS)
    )
    assert error_codes(plans.json()) == ["FORBIDDEN"]
    allowed = await post(trusted_server, account_only, by_id(ACCOUNT))
    assert allowed.json()["data"] == {"payoutAccount": None}

    # A write outside the scopes changes nothing.
    await insert_verified_payout_account(db, org.id)
    async with GraphQLClient(trusted_server.graphql_url, org.test_key) as client:
        await credit(client, 50_000)
    read_only = await mint(trusted_server.graphql_url, org.test_key, ["PAYOUTS_READ"])
    request = by_id(REQUEST, {"input": {"amount": 2000}})
    forbidden = await post(trusted_server, read_only, request)
    assert error_codes(forbidden.json()) == ["FORBIDDEN"]
    listed = await post(trusted_server, read_only, by_id(PAYOUTS, {"first": 10}))
    assert listed.json()["data"]["payouts"]["edges"] == []
    writer = await mint(trusted_server.graphql_url, org.test_key, ["PAYOUTS_WRITE"])
    done = await post(trusted_server, writer, request)
    payout = done.json()["data"]["requestPayout"]["payout"]
    assert payout["status"] == "PENDING"
    # node: a payout needs PAYOUTS_READ, a payout account ACCOUNT_READ.
    seen = await post(trusted_server, read_only, by_id(NODE, {"id": payout["id"]}))
    assert seen.json()["data"]["node"] == {"id": payout["id"], "__typename": "Payout"}
    hidden = await post(trusted_server, account_only, by_id(NODE, {"id": payout["id"]}))
    assert hidden.json()["data"]["node"] is None


async def test_tokens_cannot_manage_client_sessions(
    trusted_server: LiveServer, org: TestOrg
) -> None:
    token = await mint(trusted_server.graphql_url, org.test_key)
    async with GraphQLClient(trusted_server.graphql_url, token) as client:
        response = await client.raw(MINT, {"input": {"scopes": ["PAYOUTS_READ"]}})
    # Not a listed document (PERSISTED_QUERY_ID_REQUIRED comes first), and never allowed anyway.
    assert error_codes(response.json()) == ["PERSISTED_QUERY_ID_REQUIRED"]


def _tamper(token: str) -> str:
    prefix, body = token[:8], token[8:]
    header, payload, signature = body.split(".")
    return f"{prefix}{header}.{payload}.{signature[:-4]}AAAA"


async def test_tampered_expired_and_malformed_tokens_are_unauthenticated(
    trusted_server: LiveServer, org: TestOrg
) -> None:
    token = await mint(trusted_server.graphql_url, org.test_key, expires_in_seconds=10)
    junk = [
        _tamper(token),
        "cs_live_" + token[8:],
        "cs_test_",
        "cs_test_a.b.c",
        "cs_test_" + "A" * 5000,
    ]
    for credential in junk:
        response = await post(trusted_server, credential, by_id(BALANCE))
        assert response.status_code < 500
        assert error_codes(response.json()) == ["UNAUTHENTICATED"], credential
    assert "data" in (await post(trusted_server, token, by_id(BALANCE))).json()
    await asyncio.sleep(10.5)
    expired = await post(trusted_server, token, by_id(BALANCE))
    assert error_codes(expired.json()) == ["UNAUTHENTICATED"]
    with pytest.raises(websockets.ConnectionClosed) as refused:
        async with asyncio.timeout(5):
            await WsPeer.open(trusted_server.ws_url, token)
    assert refused.value.rcvd is not None and refused.value.rcvd.code == 4403


async def test_revocation(trusted_server: LiveServer, org: TestOrg) -> None:
    before = await mint(trusted_server.graphql_url, org.test_key)
    other_mode = await mint(trusted_server.graphql_url, org.live_key)
    async with GraphQLClient(trusted_server.graphql_url, org.test_key) as client:
        data = await client.data(
            "mutation { revokeClientSessions(input: {}) { revokedBefore userErrors { code } } }"
        )
    assert data["revokeClientSessions"]["userErrors"] == []
    assert data["revokeClientSessions"]["revokedBefore"]
    refused = await post(trusted_server, before, by_id(BALANCE))
    assert error_codes(refused.json()) == ["UNAUTHENTICATED"]
    assert "data" in (await post(trusted_server, other_mode, by_id(BALANCE))).json()
    after = await mint(trusted_server.graphql_url, org.test_key)
    assert "data" in (await post(trusted_server, after, by_id(BALANCE))).json()


async def test_websocket_runs_trusted_documents_only(
    trusted_server: LiveServer, org: TestOrg
) -> None:
    token = await mint(trusted_server.graphql_url, org.test_key, ["PAYOUTS_READ"])
    peer, ack = await WsPeer.open(trusted_server.ws_url, token)
    assert ack["type"] == "connection_ack"
    try:
        await peer.subscribe("1", by_id(BALANCE))
        first = await peer.receive()
        assert first["type"] == "next" and first["payload"]["data"]["balance"]["currency"] == "usd"
        assert (await peer.receive())["type"] == "complete"
        await peer.subscribe("2", {"query": BALANCE})
        refused = await peer.receive()
        assert refused["type"] == "error"
        assert refused["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_ID_REQUIRED"
        await peer.subscribe("3", {"documentId": document_id("{ nope }")})
        missing = await peer.receive()
        assert missing["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        await peer.subscribe(
            "4",
            {
                "extensions": {
                    "persistedQuery": {"version": 1, "sha256Hash": document_id(ACCOUNT_UPDATED)}
                }
            },
        )
        forbidden = await peer.receive()
        assert forbidden["type"] == "error"
        assert forbidden["payload"][0]["extensions"]["code"] == "FORBIDDEN"
        await peer.subscribe("5", by_id(BALANCE_UPDATED))
        async with GraphQLClient(trusted_server.graphql_url, org.test_key) as client:
            await credit(client, 1500)
        live = await peer.receive()
        assert live["id"] == "5" and live["payload"]["data"]["balanceUpdated"]["balance"]
    finally:
        await peer.close()


async def test_websocket_closes_4403_when_the_token_expires(
    trusted_server: LiveServer, org: TestOrg
) -> None:
    token = await mint(trusted_server.graphql_url, org.test_key, ["PAYOUTS_READ"], 10)
    peer, ack = await WsPeer.open(trusted_server.ws_url, token)
    assert ack["type"] == "connection_ack"
    await peer.subscribe("live", by_id(BALANCE_UPDATED))
    started = time.monotonic()
    with pytest.raises(websockets.ConnectionClosed) as closed:
        async with asyncio.timeout(15):
            while True:
                await peer.receive()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    assert "expired" in closed.value.rcvd.reason
    assert time.monotonic() - started < 11


async def test_websocket_closes_4403_when_sessions_are_revoked(
    trusted_server: LiveServer, org: TestOrg
) -> None:
    token = await mint(trusted_server.graphql_url, org.test_key, ["PAYOUTS_READ"])
    peer, ack = await WsPeer.open(trusted_server.ws_url, token)
    assert ack["type"] == "connection_ack"
    await peer.subscribe("live", by_id(BALANCE_UPDATED))
    async with GraphQLClient(trusted_server.graphql_url, org.test_key) as client:
        await client.data("mutation { revokeClientSessions(input: {}) { revokedBefore } }")
    started = time.monotonic()
    with pytest.raises(websockets.ConnectionClosed) as closed:
        async with asyncio.timeout(5):
            while True:
                await peer.receive()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    assert time.monotonic() - started < 1.5


async def test_the_rest_api_refuses_client_sessions(
    trusted_server: LiveServer, org: TestOrg
) -> None:
    """REST serves backends (the platform's SDKs): a session's scopes are enforced by the
    GraphQL schema only, so a token never opens it."""
    token = await mint(trusted_server.graphql_url, org.test_key)
    async with httpx.AsyncClient() as http:
        for credential, expected in ((token, 401), (org.test_key, 200)):
            response = await http.get(
                f"{trusted_server.url}/api/v1/plan-groups", headers={"x-api-key": credential}
            )
            assert response.status_code == expected, response.text
