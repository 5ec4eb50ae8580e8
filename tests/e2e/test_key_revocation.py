"""A revoked key is refused by every server process within one second, although each process
caches the keys it has seen (the revocation empties every cache through the event bus)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from tests.support.graphql import GraphQLClient, error_codes
from tests.support.live_server import ROOT, LiveServer, start_server
from tests.support.orgs import TestOrg

pytestmark = [pytest.mark.e2e, pytest.mark.postgres_only]

VIEWER = "{ viewer { organization { id } } }"


@pytest.fixture(scope="module")
def two_servers(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, LiveServer]]:
    log_dir = tmp_path_factory.mktemp("revocation")
    # A cache that would outlive the test: only the announced revocation can empty it.
    settings: dict[str, Any] = {"PAYOUTS_API_KEY_CACHE_SECONDS": "60"}
    with ExitStack() as stack:
        first = stack.enter_context(start_server(database_url, log_dir / "a.log", **settings))
        second = stack.enter_context(start_server(database_url, log_dir / "b.log", **settings))
        yield first, second


async def test_revoked_key_is_refused_by_every_process_within_a_second(
    two_servers: tuple[LiveServer, LiveServer], org: TestOrg
) -> None:
    first_url, second_url = (server.graphql_url for server in two_servers)
    async with (
        GraphQLClient(first_url, org.test_key) as first,
        GraphQLClient(second_url, org.test_key) as second,
    ):
        for client in (first, second):
            for _ in range(3):  # cached after the first
                assert (await client.data(VIEWER))["viewer"]["organization"]["id"] == org.id
        revoke = subprocess.run(
            [sys.executable, "-m", "api.cli", "revoke-key", org.test_key],
            cwd=ROOT,
            env=two_servers[0].env,
            capture_output=True,
            text=True,
            check=True,
        )
        revoked_at = time.monotonic()
        assert json.loads(revoke.stdout)["revoked"].startswith("key_")
        for client in (first, second):
            while error_codes(await client.execute(VIEWER)) != ["UNAUTHENTICATED"]:
                assert time.monotonic() - revoked_at < 1.0, "a process still accepts the key"
                await asyncio.sleep(0.02)
    async with GraphQLClient(second_url, org.live_key) as live:
        assert (await live.data(VIEWER))["viewer"]["organization"]["id"] == org.id
