"""Prometheus metrics: hooks for other components, the subscription gauge, and /metrics on the
real server (content, no tenant data, the bearer-token switch)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import AsyncGenerator
from pathlib import Path

import httpx
import pytest
import strawberry
from graphql import parse
from prometheus_client import REGISTRY

from api.app import create_app
from api.cost import select_operation
from api.metrics import (
    WEBHOOK_LAG,
    OperationObserver,
    operation_label,
    set_reconciler_backlog,
)
from api.settings import Settings
from services.provider_events import ingest as webhooks
from tests.support.graphql import GraphQLClient
from tests.support.live_server import (
    ROOT,
    LiveServer,
    free_port,
    server_env,
    start_server,
    stop,
    wait_until_ready,
)
from tests.support.orgs import TestOrg
from tests.support.sensitive import SERVER_LOGS


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_webhook_lag_is_observed_through_the_services_hook() -> None:
    assert WEBHOOK_LAG.observe in webhooks.LAG_OBSERVERS
    before = sample("payouts_webhook_apply_lag_seconds_count")
    for observe in webhooks.LAG_OBSERVERS:
        observe(0.25)
    assert sample("payouts_webhook_apply_lag_seconds_count") == before + 1


def test_reconciler_backlog_setter() -> None:
    set_reconciler_backlog(7)
    assert sample("payouts_reconciler_backlog") == 7
    set_reconciler_backlog(0)
    assert sample("payouts_reconciler_backlog") == 0


@pytest.mark.parametrize(
    ("query", "label"),
    [
        ("{ viewer { livemode } }", ("query", "viewer")),
        ("query Anything { a: viewer { livemode } b: viewer { livemode } }", ("query", "viewer")),
        ('{ viewer { livemode } node(id: "x") { id } }', ("query", "multiple")),
        ("mutation M { doIt }", ("mutation", "doIt")),
    ],
)
def test_operation_label_uses_schema_names_only(query: str, label: tuple[str, str]) -> None:
    assert operation_label(select_operation(parse(query), None)) == label


@strawberry.type
class Query:
    ok: bool = True


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticks(self) -> AsyncGenerator[int, None]:
        for tick in range(3):
            yield tick
            await asyncio.sleep(0)


async def test_open_subscriptions_gauge_follows_subscription_lifetime() -> None:
    schema = strawberry.Schema(
        query=Query, subscription=Subscription, extensions=[OperationObserver]
    )
    before = sample("payouts_open_subscriptions")
    stream = await schema.subscribe("subscription { ticks }")
    assert not hasattr(stream, "errors")
    first = await stream.__anext__()
    assert first.data == {"ticks": 0}
    assert sample("payouts_open_subscriptions") == before + 1
    await stream.aclose()
    assert sample("payouts_open_subscriptions") == before


def test_metrics_route_can_be_switched_off(database_url: str) -> None:
    on = create_app(Settings(database_url=database_url))
    off = create_app(Settings(database_url=database_url, metrics_enabled=False))
    assert "/metrics" in [getattr(route, "path", None) for route in on.routes]
    assert "/metrics" not in [getattr(route, "path", None) for route in off.routes]


@pytest.mark.e2e
async def test_metrics_endpoint_counts_operations_and_errors_without_tenant_data(
    server: LiveServer, org: TestOrg
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        await client.data("query SecretOperationName { viewer { organization { id name } } }")
    async with GraphQLClient(server.graphql_url) as anonymous:
        await anonymous.raw("{ viewer { livemode } }")
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{server.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert re.search(
        r'payouts_graphql_operations_total\{operation="viewer",operation_type="query"\} [1-9]', text
    )
    assert re.search(r'payouts_graphql_errors_total\{code="UNAUTHENTICATED"\} [1-9]', text)
    assert re.search(
        r'payouts_http_requests_total\{method="POST",route="/graphql",status="200"\}', text
    )
    assert "payouts_graphql_operation_duration_seconds_bucket" in text
    for tenant_value in (org.id, org.name, org.test_key, "SecretOperationName"):
        assert tenant_value not in text


@pytest.mark.e2e
def test_metrics_token_is_required_when_set(database_url: str, tmp_path: Path) -> None:
    token = "metrics-token-for-tests"
    with start_server(database_url, tmp_path / "server.log", PAYOUTS_METRICS_TOKEN=token) as live:
        assert httpx.get(f"{live.url}/metrics").status_code == 401
        wrong = httpx.get(f"{live.url}/metrics", headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = httpx.get(f"{live.url}/metrics", headers={"authorization": f"Bearer {token}"})
        assert right.status_code == 200
        assert "payouts_http_requests_total" in right.text


@pytest.mark.e2e
async def test_metrics_aggregate_worker_processes_in_multiprocess_mode(
    database_url: str, tmp_path: Path, org: TestOrg
) -> None:
    """`serve --workers 2` with PROMETHEUS_MULTIPROC_DIR: one scrape counts every worker."""
    port = free_port()
    log_path = tmp_path / "server.log"
    SERVER_LOGS.append(log_path)
    (tmp_path / "prometheus").mkdir()
    env = server_env(database_url, port, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"))
    command = [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", "2"]
    command.append("--allow-in-process-bus")  # live updates play no part here
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [*command, "--no-migrate"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    live = LiveServer(f"http://127.0.0.1:{port}", port, process, log_path, env)
    try:
        wait_until_ready(live)
        requests = 40
        for _ in range(requests):  # a new connection each time: spread over the workers
            async with GraphQLClient(live.graphql_url, org.test_key) as client:
                await client.data("{ viewer { livemode } }")
        text = httpx.get(f"{live.url}/metrics").text
    finally:
        stop(process)
    found = re.search(
        r'payouts_graphql_operations_total\{operation="viewer",operation_type="query"\} (\S+)', text
    )
    assert found is not None and float(found.group(1)) == requests
