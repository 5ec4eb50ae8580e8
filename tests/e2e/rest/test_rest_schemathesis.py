"""schemathesis in OpenAPI mode against /api/v1 of a running server (issue 15): every
operation, positive and negative generated requests, derandomized. No response may be a 5xx,
each must match the document (status code, content type, headers, body schema), requests the
document calls invalid must be refused, and no message may carry a traceback, a path or SQL.
Half the generated requests name real objects (a seeded plan group and plan) in their path, so
the fuzzing reaches past "not found". ``FUZZ_EXAMPLES=20`` for a quick local run."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.infra.database import Database
from services.organizations import api_keys
from tests.e2e.test_schemathesis_graphql import LEAKS, messages
from tests.support.accounts import verified_payout_account
from tests.support.graphql import GraphQLClient
from tests.support.live_server import LiveServer, free_port, start_server
from tests.support.payouts import credit
from tests.support.rest import RestClient

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


# Operations where random valid requests must sometimes succeed (others need a state that
# random requests rarely meet: a plan of the group in the body, a unique code...).
REACHED = [
    "POST /payouts",
    "POST /plan-groups",
    "GET /plan-groups",
    "GET /plan-groups/{id}",
    "PATCH /plan-groups/{id}",
    "PUT /plan-groups/{id}",
    "GET /plans/{id}",
    "GET /webhooks",
    "GET /webhooks/{id}",
]


@dataclass(frozen=True)
class Seeded:
    key: str
    group_id: str
    plan_id: str
    webhook_id: str


@pytest.fixture
async def fuzz_key(private_database_url: str) -> AsyncIterator[str]:
    db = Database(private_database_url)
    try:
        async with db.transaction() as session:
            created = await api_keys.create_organization(session, name="REST Fuzz Org")
    finally:
        await db.dispose()
    yield created.test_key


@pytest.fixture
def fuzz_server(private_database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    # Webhook endpoints on loopback, answered at once (nothing listens): a test event's first
    # attempt fails fast instead of waiting for a timeout.
    with start_server(
        private_database_url,
        tmp_path / "server.log",
        PAYOUTS_WEBHOOK_ALLOW_PRIVATE_URLS="true",
        PAYOUTS_WEBHOOK_TIMEOUT_SECONDS="1",
        PAYOUTS_WEBHOOK_POLL_INTERVAL_SECONDS="0.1",
    ) as live:
        yield live


async def seed(server: LiveServer, key: str) -> Seeded:
    """A plan group with a plan, a webhook endpoint, a verified payout account and funds:
    positive requests can succeed."""
    await verified_payout_account(server.graphql_url, key)
    async with GraphQLClient(server.graphql_url, key) as gql:
        await credit(gql, 100_000_000)
    async with RestClient(server, key) as rest:
        group = (await rest.request("POST", "/plan-groups", json={"name": "Fuzzed"})).json()
        plan = (
            await rest.request(
                "POST",
                "/plans",
                json={"name": "Fuzzed", "code": "fuzzed", "planGroupId": group["data"]["id"]},
            )
        ).json()
        hook = (
            await rest.request(
                "POST", "/webhooks", json={"url": f"http://127.0.0.1:{free_port()}/", "events": []}
            )
        ).json()
    return Seeded(key, group["data"]["id"], plan["data"]["id"], hook["data"]["id"])


FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    report_multiple_bugs=False,
)


def fuzz_operation(
    operation: Any, mode: GenerationMode, seeded: Seeded
) -> tuple[Counter[int], list[str]]:
    statuses: Counter[int] = Counter()
    found: list[str] = []
    checks = [*CHECKS, negative_data_rejection] if mode is GenerationMode.NEGATIVE else CHECKS

    @FUZZ_SETTINGS
    @given(case=operation.as_strategy(generation_mode=mode), real=st.booleans())
    def run(case: Any, real: bool) -> None:
        if real and mode is GenerationMode.POSITIVE and case.path_parameters:
            if "id" in case.path_parameters:
                resource = operation.path.split("/")[1]
                case.path_parameters["id"] = {
                    "plans": seeded.plan_id,
                    "webhooks": seeded.webhook_id,
                }.get(resource, seeded.group_id)
            if "planId" in case.path_parameters:
                case.path_parameters["planId"] = seeded.plan_id
        headers = {"x-api-key": seeded.key}
        response = case.call(headers=headers, timeout=30)
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except FailureGroup as failure:  # one error naming every failed check
            found.append(f"{failure}\n  {case.method} {case.formatted_path} {case.body!r}")
        try:
            body = response.json()
        except ValueError:
            found.append(f"not JSON: {response.text[:200]}")
            return
        found.extend(f"leaky message: {m!r}" for m in messages(body) if LEAKS.search(m))

    run()
    return statuses, found


@pytest.mark.timeout(1200)
async def test_generated_requests_match_the_document(
    fuzz_server: LiveServer, fuzz_key: str
) -> None:
    seeded = await seed(fuzz_server, fuzz_key)
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/api/v1/openapi.json")
    schema.config.update(base_url=f"{fuzz_server.url}/api/v1")
    results = list(schema.get_all_operations())
    operations = [r.ok() for r in results if isinstance(r, Ok)]
    assert len(operations) == len(results)
    report: dict[str, Counter[int]] = {}
    failures: dict[str, list[str]] = {}
    for operation in operations:
        for mode in GenerationMode:
            label = f"{operation.label} [{mode.value}]"
            statuses, found = fuzz_operation(operation, mode, seeded)
            report[label] = statuses
            if found:
                failures[label] = found[:3]
    for label, statuses in report.items():
        print(f"{label}: {statuses.total()} requests {dict(sorted(statuses.items()))}")
    for label, found in failures.items():
        print(f"FAILED {label}:", *found, sep="\n")
    assert failures == {}
    # The positive requests reached past validation: some succeeded on these operations.
    reached = {label for label, statuses in report.items() if statuses[200]}
    assert {f"{label} [positive]" for label in REACHED} <= reached, report
