"""GraphQL over HTTP (issue 17, item 17): ``application/graphql-response+json`` when the client
accepts it, graphql-http's own audit suite (npm ``graphql-http``) passing every MUST and SHOULD,
and ``application/json`` unchanged for clients that ask for it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.graphql import GraphQLClient, error_codes
from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
AUDIT = ROOT / "tests" / "support" / "graphql_http_audit.mjs"
GRAPHQL_RESPONSE = "application/graphql-response+json"


def run_audit(server: LiveServer, key: str) -> list[dict[str, str | None]]:
    finished = subprocess.run(
        ["node", str(AUDIT), server.graphql_url, key],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [json.loads(line) for line in finished.stdout.splitlines() if line.strip()]


async def test_graphql_http_audit_passes_every_must_and_should(
    server: LiveServer, org: TestOrg
) -> None:
    results = run_audit(server, org.test_key)
    required = [r for r in results if str(r["name"]).startswith(("MUST", "SHOULD"))]
    assert len(required) >= 30, results  # the suite ran (graphql-http 1.23: 36)
    failing = [f"{r['id']} {r['name']}: {r['reason']}" for r in required if r["status"] != "ok"]
    assert not failing, "\n".join(failing)


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ viewer { livemode ", None),  # parse failure
        ("{ viewer { noSuchField } }", None),  # validation failure
        ("query($n: Int!) { payouts(first: $n) { edges { cursor } } }", {"n": "x"}),  # coercion
    ],
)
async def test_graphql_response_json_refusals_are_400_without_data(
    server: LiveServer, org: TestOrg, query: str, variables: dict[str, object] | None
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        accepting = await client.raw(query, variables, headers={"accept": GRAPHQL_RESPONSE})
        legacy = await client.raw(query, variables, headers={"accept": "application/json"})
    assert accepting.status_code == 400, accepting.text
    assert accepting.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    body = accepting.json()
    assert "data" not in body and error_codes(body) == ["BAD_USER_INPUT"], body
    assert legacy.status_code == 200, legacy.text
    assert legacy.headers["content-type"].startswith("application/json")
    assert error_codes(legacy.json()) == ["BAD_USER_INPUT"]


async def test_graphql_response_json_executed_request_is_200_with_data(
    server: LiveServer, org: TestOrg
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        response = await client.raw(
            "{ viewer { livemode } }",
            headers={"accept": f"{GRAPHQL_RESPONSE}, application/json;q=0.9"},
        )
        preferred_json = await client.raw(
            "{ viewer { livemode } }",
            headers={"accept": f"application/json, {GRAPHQL_RESPONSE};q=0.5"},
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert response.json()["data"] == {"viewer": {"livemode": False}}
    assert preferred_json.headers["content-type"].startswith("application/json")
