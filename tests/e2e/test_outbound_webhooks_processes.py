"""Outbound webhooks from two server processes on one PostgreSQL database: each attempt of
each event reaches each endpoint once, never twice from two processes (leases taken with
``FOR UPDATE SKIP LOCKED``)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from services.infra.database import Database
from tests.conftest import make_org
from tests.e2e.test_outbound_webhooks import WEBHOOK_ENV
from tests.support.graphql import GraphQLClient
from tests.support.live_server import start_server
from tests.support.payouts import credit
from tests.support.webhook_endpoints import create_endpoint, wait_for_deliveries
from tests.support.webhook_receiver import Script, running_receiver

pytestmark = [pytest.mark.e2e, pytest.mark.postgres_only]

EVENTS = 40


async def test_two_processes_deliver_each_attempt_once(
    private_database_url: str, tmp_path: Path
) -> None:
    database = Database(private_database_url)
    org = await make_org(database, "Two processes")
    with (
        running_receiver() as receiver,
        start_server(private_database_url, tmp_path / "one.log", **WEBHOOK_ENV) as one,
        start_server(private_database_url, tmp_path / "two.log", **WEBHOOK_ENV) as two,
    ):
        receiver.scripts["/flaky"] = Script(fail_first_per_event=True)
        async with (
            GraphQLClient(one.graphql_url, org.test_key) as first,
            GraphQLClient(two.graphql_url, org.test_key) as second,
        ):
            steady, steady_secret = await create_endpoint(first, receiver.url("/steady"))
            flaky, _ = await create_endpoint(second, receiver.url("/flaky"))
            receiver.secrets["/steady"] = [steady_secret]
            # Events committed through both processes, concurrently.
            await asyncio.gather(
                *(credit(first if i % 2 else second, 1_000 + i) for i in range(EVENTS))
            )
            steady_got = await receiver.wait_for("/steady", EVENTS, timeout=60, exactly=True)
            flaky_got = await receiver.wait_for("/flaky", 2 * EVENTS, timeout=60, exactly=True)
            await asyncio.sleep(1.0)
            steady_rows = await wait_for_deliveries(
                first,
                steady["id"],
                lambda ds: len(ds) == EVENTS and all(d["status"] == "SUCCEEDED" for d in ds),
            )
            flaky_rows = await wait_for_deliveries(
                first,
                flaky["id"],
                lambda ds: len(ds) == EVENTS and all(d["status"] == "SUCCEEDED" for d in ds),
            )
        one_log, two_log = one.log_text(), two.log_text()
    await database.dispose()
    assert len(receiver.on("/steady")) == EVENTS
    assert set(Counter(r.event_id for r in steady_got).values()) == {1}
    assert set(Counter(r.event_id for r in flaky_got).values()) == {2}
    assert all(r.commet_valid[steady_secret] for r in steady_got)
    assert {d["attemptCount"] for d in steady_rows} == {1}
    assert {d["attemptCount"] for d in flaky_rows} == {2}
    assert all([a["statusCode"] for a in d["attempts"]] == [500, 200] for d in flaky_rows)
    assert "Traceback" not in one_log + two_log
