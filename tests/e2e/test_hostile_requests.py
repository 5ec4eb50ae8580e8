"""Odd request shapes reach the cost, rate limit and observability hooks too: none of them may
produce a 500 or an error without a code."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.graphql import GraphQLClient
from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg

pytestmark = pytest.mark.e2e

CODES = {"UNAUTHENTICATED", "RATE_LIMITED", "QUERY_TOO_COMPLEX", "BAD_USER_INPUT", "INTERNAL"}
VIEWER = "query A { viewer { livemode } }"


@pytest.mark.parametrize(
    "body",
    [
        {"query": VIEWER, "operationName": 5},
        {"query": VIEWER, "operationName": ["A"]},
        {"query": VIEWER, "operationName": {"x": 1}},
        {"query": VIEWER, "operationName": "Nope"},
        {"query": "query A { viewer { livemode } } query B { viewer { livemode } }"},
        {"query": "query A($n: ID!) { node(id: $n) { id } }", "variables": {"n": 10**30}},
        {"query": VIEWER, "variables": [1]},
        {"query": VIEWER, "extensions": "x"},
        {"query": ["not", "a", "string"]},
    ],
)
async def test_odd_request_shapes_get_a_clear_error_never_a_500(
    server: LiveServer, org: TestOrg, body: dict[str, Any]
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        response = await client.http.post(server.graphql_url, json=body)
    assert response.status_code in (200, 400), response.text
    if response.status_code == 200:
        result = response.json()
        for error in result.get("errors") or []:
            assert error.get("extensions", {}).get("code") in CODES, result
