"""Query cost and per-key rate limits against real server processes (two processes sharing
one bucket store: the test database, or Redis)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from gql import Client, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport

from tests.support.graphql import GraphQLClient, error_codes
from tests.support.live_server import LiveServer, start_server
from tests.support.orgs import TestOrg

pytestmark = pytest.mark.e2e

ORG_QUERY = "query Org { viewer { organization { id } } }"  # costs 2
REDIS_URL = os.environ.get("PAYOUTS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="module", params=["database", "redis"])
def server_pair(
    request: pytest.FixtureRequest, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two server processes with a 5-token bucket refilling 0.01 token/s and a cost budget of 5."""
    settings: dict[str, Any] = {
        "PAYOUTS_RATE_LIMIT_BUCKET_SIZE": "5",
        "PAYOUTS_RATE_LIMIT_REFILL_PER_SECOND": "0.01",
        "PAYOUTS_MAX_QUERY_COST": "5",
    }
    settings["PAYOUTS_RATE_LIMIT_STORE"] = request.param
    if request.param == "redis":
        settings["PAYOUTS_REDIS_URL"] = REDIS_URL
        settings["PAYOUTS_REDIS_KEY_PREFIX"] = f"payouts-test-{uuid.uuid4().hex[:12]}:"
    log_dir = tmp_path_factory.mktemp(f"limits-{request.param}")
    with ExitStack() as stack:
        first = stack.enter_context(start_server(database_url, log_dir / "a.log", **settings))
        second = stack.enter_context(start_server(database_url, log_dir / "b.log", **settings))
        yield first, second


async def test_every_response_reports_its_cost(server: LiveServer, org: TestOrg) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        result = await client.execute(ORG_QUERY)
    cost = result["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 2
    assert cost["maximumAvailable"] == 1000
    throttle = cost["throttleStatus"]
    assert throttle["currentlyAvailable"] <= throttle["maximumAvailable"] - 2


async def test_query_over_the_cost_budget_is_refused(
    server_pair: tuple[LiveServer, LiveServer], org: TestOrg
) -> None:
    server, _ = server_pair
    query = " ".join(f"o{i}: viewer {{ organization {{ id }} }}" for i in range(3))  # cost 6
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        result = await client.execute("{ " + query + " }")
        assert result["data"] is None
        assert error_codes(result) == ["QUERY_TOO_COMPLEX"]
        assert result["errors"][0]["extensions"]["cost"] == 6
        assert result["extensions"]["cost"]["requestedQueryCost"] == 6
        # A refused query takes nothing from the bucket.
        assert (await client.execute(ORG_QUERY))["data"]["viewer"]["organization"]["id"] == org.id


async def test_over_the_rate_limit_gets_429_with_retry_after(
    server_pair: tuple[LiveServer, LiveServer], org: TestOrg
) -> None:
    server, _ = server_pair
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        for _ in range(2):
            await client.data(ORG_QUERY)  # 5 → 3 → 1
        response = await client.raw(ORG_QUERY)
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 100  # 1 token missing at 0.01/s
    body = response.json()
    assert body["data"] is None
    assert error_codes(body) == ["RATE_LIMITED"]
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 1


async def test_bucket_is_shared_by_server_processes_and_per_key(
    server_pair: tuple[LiveServer, LiveServer], org: TestOrg
) -> None:
    first, second = server_pair
    async with GraphQLClient(first.graphql_url, org.test_key) as client:
        await client.data(ORG_QUERY)
        await client.data(ORG_QUERY)
    async with GraphQLClient(second.graphql_url, org.test_key) as client:
        assert (await client.raw(ORG_QUERY)).status_code == 429
    async with GraphQLClient(second.graphql_url, org.live_key) as client:
        await client.data(ORG_QUERY)  # the other key of the same organization has its own bucket


async def test_rate_limited_websocket_operation_gets_an_error(
    server_pair: tuple[LiveServer, LiveServer], org: TestOrg
) -> None:
    server, _ = server_pair
    transport = WebsocketsTransport(
        url=server.ws_url,
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        init_payload={"x-api-key": org.test_key},
    )
    async with Client(transport=transport) as session:
        query = gql(ORG_QUERY)
        await session.execute(query)
        await session.execute(query)
        with pytest.raises(TransportQueryError) as refused:
            await session.execute(query)
        assert refused.value.errors is not None
        errors = refused.value.errors
        assert errors[0].get("extensions", {}).get("code") == "RATE_LIMITED", errors
