"""Issue 17, item 1: no document within the byte limit can hold the event loop, and a caller
without a key cannot make the server validate anything but introspection."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from graphql import get_introspection_query

from tests.support.graphql import GraphQLClient
from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg

pytestmark = pytest.mark.e2e


def fragment_chain(depth: int) -> str:
    """Each fragment spreads the previous one twice: 2^depth selections once inlined."""
    fragments = ["fragment F0 on Viewer { livemode }"]
    fragments += [
        f"fragment F{i} on Viewer {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, depth + 1)
    ]
    return f"query Bomb {{ viewer {{ ...F{depth} }} }} " + " ".join(fragments)


def codes(result: dict[str, object]) -> list[object]:
    errors = result.get("errors") or []
    assert isinstance(errors, list)
    return [error.get("extensions", {}).get("code") for error in errors]


@pytest.mark.parametrize("key", [None, "test"])
async def test_doubling_fragment_chain_is_refused_at_once(
    server: LiveServer, org: TestOrg, key: str | None
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key if key else None) as client:
        bomb = asyncio.create_task(client.execute(fragment_chain(39)))
        # The loop stays free: health checks keep answering while the bomb is in flight.
        async with httpx.AsyncClient(timeout=5.0) as probe:
            for _ in range(3):
                assert (await probe.get(f"{server.url}/healthz")).status_code == 200
        result = await asyncio.wait_for(bomb, timeout=10)
    assert codes(result) == ["QUERY_TOO_COMPLEX"]
    assert "fragments are inlined" in str(result["errors"])
    assert result.get("data") is None


async def test_a_field_repeated_hundreds_of_times_is_refused_before_validation(
    server: LiveServer, org: TestOrg
) -> None:
    query = "query Wide { viewer { " + " ".join(["livemode"] * 390) + " } }"
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        result = await client.execute(query)
    assert codes(result) == ["QUERY_TOO_COMPLEX"]
    assert "repeats response names" in result["errors"][0]["message"]


async def test_without_a_key_only_introspection_is_validated(server: LiveServer) -> None:
    async with GraphQLClient(server.graphql_url) as client:
        # An invalid document is not even validated: the missing key is the answer.
        refused = await client.execute("query Nope { viewer { noSuchField } }")
        introspection = await client.execute(get_introspection_query())
    assert codes(refused) == ["UNAUTHENTICATED"]
    assert "x-api-key" in refused["errors"][0]["message"]
    assert "errors" not in introspection
    assert introspection["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_a_valid_document_with_a_key_still_runs(server: LiveServer, org: TestOrg) -> None:
    query = (
        "query Ok { viewer { ...A ...B } } fragment A on Viewer { livemode } "
        "fragment B on Viewer { livemode organization { id } }"
    )
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        started = time.monotonic()
        data = await client.data(query)
    assert data["viewer"]["livemode"] is False
    assert data["viewer"]["organization"]["id"]
    assert time.monotonic() - started < 30  # sanity only; speed lives in bench/
