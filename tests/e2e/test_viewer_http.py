"""The running server over real HTTP: auth, viewer, limits, request ids, health."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import httpx
import pytest

from tests.support.graphql import GraphQLClient, error_codes
from tests.support.live_server import ROOT, LiveServer
from tests.support.orgs import TestOrg

pytestmark = pytest.mark.e2e

VIEWER = "{ viewer { livemode organization { id name country currency } } }"


async def test_viewer_with_test_and_live_keys(server: LiveServer, org: TestOrg) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        test_view = (await client.data(VIEWER))["viewer"]
    async with GraphQLClient(server.graphql_url, org.live_key) as client:
        live_view = (await client.data(VIEWER))["viewer"]
    assert test_view == {
        "livemode": False,
        "organization": {"id": org.id, "name": org.name, "country": "US", "currency": "usd"},
    }
    assert live_view["livemode"] is True
    assert live_view["organization"]["id"] == org.id


async def test_bearer_authorization_header_is_accepted(server: LiveServer, org: TestOrg) -> None:
    async with GraphQLClient(server.graphql_url) as client:
        data = await client.data(VIEWER, headers={"Authorization": f"Bearer {org.live_key}"})
    assert data["viewer"]["livemode"] is True


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-api-key": "ck_test_nope"},
        {"x-api-key": "ck_test_" + "A" * 40},
        {"Authorization": "Basic abc"},
    ],
)
async def test_missing_or_wrong_key_is_unauthenticated(
    server: LiveServer, headers: dict[str, str]
) -> None:
    async with GraphQLClient(server.graphql_url) as client:
        result = await client.execute(VIEWER, headers=headers)
    assert result["data"] is None
    assert error_codes(result) == ["UNAUTHENTICATED"]


async def test_revoked_key_is_unauthenticated(server: LiveServer, org: TestOrg) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        assert (await client.data(VIEWER))["viewer"]["organization"]["id"] == org.id
        revoke = subprocess.run(
            [sys.executable, "-m", "api.cli", "revoke-key", org.test_key],
            cwd=ROOT,
            env=server.env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert json.loads(revoke.stdout)["revoked"].startswith("key_")
        # Immediate without a key cache (SQLite); announced to every process's cache on
        # PostgreSQL, where the announcement may take a moment to arrive.
        revoked_at = time.monotonic()
        while error_codes(await client.execute(VIEWER)) != ["UNAUTHENTICATED"]:
            assert time.monotonic() - revoked_at < 1.0, "the revoked key is still accepted"
            await asyncio.sleep(0.02)


async def test_cli_create_org_keys_work_against_server(server: LiveServer) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "api.cli", "create-org", "--name", "Acme CLI"],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        check=True,
    )
    created = json.loads(out.stdout)
    assert set(created) == {"organizationId", "testKey", "liveKey"}
    async with GraphQLClient(server.graphql_url, created["testKey"]) as client:
        view = (await client.data(VIEWER))["viewer"]
    assert view["livemode"] is False and view["organization"]["name"] == "Acme CLI"


async def test_query_over_get_and_mutation_over_get_refused(
    server: LiveServer, org: TestOrg
) -> None:
    async with httpx.AsyncClient(headers={"x-api-key": org.test_key}) as http:
        ok = await http.get(server.graphql_url, params={"query": "{ viewer { livemode } }"})
        refused = await http.get(server.graphql_url, params={"query": "mutation { __typename }"})
    assert ok.status_code == 200 and ok.json()["data"]["viewer"]["livemode"] is False
    assert refused.status_code in (400, 405)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        (
            "{ " + " ".join(f"a{i}: viewer {{ livemode }}" for i in range(40)) + " }",
            "QUERY_TOO_COMPLEX",
        ),
        ("{ viewer { livemode " + "__typename " * 3000 + "} }", "QUERY_TOO_COMPLEX"),
        ("{ viewer { organization { nme } } }", "BAD_USER_INPUT"),
        ("{ viewer { ", "BAD_USER_INPUT"),
    ],
    ids=["aliases", "tokens", "unknown-field", "syntax"],
)
async def test_bad_queries_get_coded_errors_not_500(
    server: LiveServer, org: TestOrg, query: str, code: str
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        response = await client.raw(query)
    assert response.status_code < 500
    assert error_codes(response.json()) == [code]


async def test_over_deep_query_is_too_complex(server: LiveServer, org: TestOrg) -> None:
    nested = "livemode"
    for _ in range(15):
        nested = f"viewer {{ {nested} }}"
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        response = await client.raw("{ " + nested + " }")
    assert response.status_code < 500
    assert "QUERY_TOO_COMPLEX" in error_codes(response.json())


async def test_oversized_body_is_413_with_code(server: LiveServer, org: TestOrg) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        response = await client.raw("{ viewer { livemode } }" + " " * 200_000)
    assert response.status_code == 413
    assert error_codes(response.json()) == ["BAD_USER_INPUT"]


async def test_every_response_has_a_request_id(server: LiveServer) -> None:
    async with httpx.AsyncClient() as http:
        fresh = await http.get(f"{server.url}/healthz")
        echoed = await http.get(f"{server.url}/healthz", headers={"x-request-id": "client-req-123"})
        junk = await http.get(
            f"{server.url}/healthz", headers={"x-request-id": "bad id with spaces and {braces}"}
        )
    assert fresh.headers["x-request-id"].startswith("req_")
    assert echoed.headers["x-request-id"] == "client-req-123"
    assert junk.headers["x-request-id"].startswith("req_")


async def test_health_and_readiness(server: LiveServer) -> None:
    async with httpx.AsyncClient() as http:
        health = await http.get(f"{server.url}/healthz")
        ready = await http.get(f"{server.url}/readyz")
    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200 and ready.json()["status"] == "ok"
