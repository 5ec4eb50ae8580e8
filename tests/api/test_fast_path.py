"""The HTTP fast path (``api/fast_path.py``) answers exactly as strawberry's full path does,
and only for queries the full path has accepted; everything else is left to the full path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from api.app import create_app
from api.graphql_view import PayoutsGraphQL
from api.settings import Settings
from services.infra.database import Database
from services.ledger import service as ledger
from tests.support.client_sessions import MINT, document_id, write_manifest
from tests.support.orgs import TestOrg
from tests.support.payout_setup import insert_verified_payout_account

VIEWER = "{ viewer { livemode } }"
NAMED = "query Who { viewer { id livemode } } query Other { viewer { livemode } }"
PAGE = "query Page($first: Int) { payouts(first: $first) { edges { cursor } } }"
PLANS = "query Plans { plans { edges { cursor } } }"
PROBLEM = "application/graphql-response+json"


def _view(app: Starlette) -> PayoutsGraphQL:
    for route in app.router.routes:
        endpoint = getattr(route, "endpoint", None)
        if getattr(route, "path", None) == "/graphql" and isinstance(endpoint, PayoutsGraphQL):
            return endpoint
    raise AssertionError("no GraphQL view")


def _request(body: dict[str, Any], headers: dict[str, str]) -> Request:
    raw = orjson.dumps(body)
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "query_string": b"",
        "headers": [
            (b"content-type", b"application/json"),
            *((k.encode(), v.encode()) for k, v in headers.items()),
        ],
        "state": {"request_id": "req_fastpathtest0001"},
    }
    return Request(scope, receive=receive)


def _sample(text: str) -> float:
    name, _, labels = text.partition("{")
    pairs = dict(part.split("=") for part in labels.rstrip("}").split(","))
    return REGISTRY.get_sample_value(name, {k: v.strip('"') for k, v in pairs.items()}) or 0.0


def _shown(response: Response) -> tuple[int, dict[str, Any], list[tuple[bytes, bytes]]]:
    body = orjson.loads(bytes(response.body))
    # The bucket drains by each request's cost: the only figure allowed to differ.
    throttle = body.get("extensions", {}).get("cost", {}).get("throttleStatus")
    if throttle:
        throttle.pop("currentlyAvailable")
    headers = [(k, v) for k, v in response.headers.raw if k != b"content-length"]
    return response.status_code, body, headers


async def _both(
    view: PayoutsGraphQL, body: dict[str, Any], headers: dict[str, str]
) -> tuple[Response | None, Response]:
    full = await view.run(_request(body, headers))
    assert view.fast_path is not None
    fast = await view.fast_path.serve(_request(body, headers))
    return fast, full


@pytest.fixture
async def app(database_url: str, tmp_path: Path) -> AsyncIterator[Starlette]:
    manifest = write_manifest(tmp_path / "documents.json", [VIEWER, PAGE, PLANS])
    settings = Settings(
        database_url=database_url,
        demo_org_on_start=False,
        trusted_documents=str(manifest),
        trusted_documents_mode="client_sessions",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


async def _token(app: Starlette, key: str, scopes: list[str]) -> str:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        answer = await http.post(
            "/graphql",
            json={"query": MINT, "variables": {"input": {"scopes": scopes}}},
            headers={"x-api-key": key},
        )
    return str(answer.json()["data"]["createClientSession"]["clientSession"]["token"])


@pytest.mark.parametrize(
    ("body", "accept"),
    [
        ({"query": VIEWER}, None),
        ({"query": VIEWER}, PROBLEM),
        ({"query": NAMED, "operationName": "Who"}, None),
        ({"query": PAGE, "variables": {"first": 2}}, PROBLEM),
        # Variable coercion fails in execution: 400 and no data for graphql-response+json.
        ({"query": PAGE, "variables": {"first": "two"}}, PROBLEM),
        ({"query": PAGE, "variables": {"first": "two"}}, None),
    ],
)
async def test_same_answer_as_the_full_path(
    app: Starlette, org: TestOrg, body: dict[str, Any], accept: str | None
) -> None:
    view = _view(app)
    headers = {"x-api-key": org.test_key, **({"accept": accept} if accept else {})}
    fast, full = await _both(view, body, headers)
    assert fast is not None, "the query the full path accepted takes the fast path"
    assert _shown(fast) == _shown(full)


async def test_a_token_naming_a_trusted_document(app: Starlette, org: TestOrg) -> None:
    view = _view(app)
    token = await _token(app, org.test_key, ["PAYOUTS_READ"])
    headers = {"authorization": f"Bearer {token}"}
    counted = 'payouts_graphql_operations_total{operation="viewer",operation_type="query"}'
    before = _sample(counted)
    fast, full = await _both(view, {"documentId": document_id(VIEWER)}, headers)
    assert fast is not None
    assert _sample(counted) == before + 2  # both paths count the operation
    assert _shown(fast) == _shown(full)
    assert orjson.loads(bytes(fast.body))["data"] == {"viewer": {"livemode": False}}
    # The mode still requires a document id from a token: the full path refuses it.
    assert await view.fast_path.serve(_request({"query": VIEWER}, headers)) is None  # type: ignore[union-attr]
    refused = await view.run(_request({"query": VIEWER}, headers))
    assert b"PERSISTED_QUERY_ID_REQUIRED" in bytes(refused.body)


async def test_out_of_scope_and_unknown_requests_stay_on_the_full_path(
    app: Starlette, org: TestOrg
) -> None:
    view = _view(app)
    fast_path = view.fast_path
    assert fast_path is not None
    token = await _token(app, org.test_key, ["PAYOUTS_READ"])
    headers = {"authorization": f"Bearer {token}", "accept": PROBLEM}
    for _ in range(2):
        body = {"documentId": document_id(PLANS)}
        assert await fast_path.serve(_request(body, headers)) is None
        refused = await view.run(_request(body, headers))
        assert refused.status_code == 403
        assert b"FORBIDDEN" in bytes(refused.body)
    key = {"x-api-key": org.test_key}
    assert await fast_path.serve(_request({"query": VIEWER}, {"x-api-key": "ck_test_nope"})) is None
    refused_bodies: list[dict[str, object]] = [
        {"query": "{ viewer { nope } }"},
        {"query": "mutation { requestPayout(input: {amount: 1000}) { payout { nope } } }"},
        {"query": VIEWER, "variables": {"x": "a\x00b"}},
        {"query": VIEWER, "unknown": 1},
        {"documentId": "0" * 64},
    ]
    for refused_body in refused_bodies:
        await view.run(_request(refused_body, key))
        assert await fast_path.serve(_request(refused_body, key)) is None, refused_body


async def test_rate_limit_refusal_matches(database_url: str, org: TestOrg) -> None:
    settings = Settings(
        database_url=database_url,
        demo_org_on_start=False,
        max_query_cost=1,
        rate_limit_bucket_size=1,
        rate_limit_refill_per_second=0.001,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        view = _view(app)
        headers = {"x-api-key": org.test_key, "accept": PROBLEM}
        first = await view.run(_request({"query": VIEWER}, headers))
        assert first.status_code == 200
        fast, full = await _both(view, {"query": VIEWER}, headers)
        assert full.status_code == 429 and fast is not None
        assert _shown(fast) == _shown(full)


REQUEST = (
    "mutation Request($amount: Cents!) { requestPayout(input: {amount: $amount}) "
    "{ payout { id amount netAmount } userErrors { code message field } } }"
)


async def _payout_count(db: Database, org_id: str) -> int:
    async with db.read() as session:
        result = await session.execute(
            sa.text("SELECT count(*) FROM payouts WHERE organization_id = :org"), {"org": org_id}
        )
        return int(result.scalar_one())


async def test_mutations_answer_as_on_the_full_path(
    app: Starlette, db: Database, org: TestOrg
) -> None:
    """An accepted mutation takes the fast path; its idempotency claim, replay, key mismatch
    and userErrors are the resolver's, so the answers are the full path's byte for byte."""
    await insert_verified_payout_account(db, org.id)
    async with db.transaction() as session:
        await ledger.credit(
            session,
            organization_id=org.id,
            livemode=False,
            currency="usd",
            amount=50_000,
            description=None,
            available_in_seconds=0,
        )
    view = _view(app)
    fast_path = view.fast_path
    assert fast_path is not None
    keyed = {"x-api-key": org.test_key, "idempotency-key": f"fast-{org.id}"}
    body = {"query": REQUEST, "variables": {"amount": 1_000}}
    # The full path creates the payout; the fast path, given the same key, replays it.
    fast, full = await _both(view, body, keyed)
    assert fast is not None, "the mutation the full path accepted takes the fast path"
    assert _shown(fast) == _shown(full)
    payout = orjson.loads(bytes(full.body))["data"]["requestPayout"]["payout"]
    assert payout["amount"] == 1_000
    assert await _payout_count(db, org.id) == 1  # the retry applied once
    # The same key with other input, then more than is available: userErrors on both paths.
    fast, full = await _both(view, {"query": REQUEST, "variables": {"amount": 2_000}}, keyed)
    assert fast is not None
    assert _shown(fast) == _shown(full)
    assert b"IDEMPOTENCY_KEY_MISMATCH" in bytes(full.body)
    unkeyed = {"x-api-key": org.test_key, "accept": PROBLEM}
    fast, full = await _both(view, {"query": REQUEST, "variables": {"amount": 10**9}}, unkeyed)
    assert fast is not None
    assert _shown(fast) == _shown(full)
    assert b"INSUFFICIENT_BALANCE" in bytes(full.body)
    # A new payout through the fast path: its own id, the same shape as the full path's.
    new = {"query": REQUEST, "variables": {"amount": 1_500}}
    created = await fast_path.serve(_request(new, unkeyed))
    assert created is not None and created.status_code == 200
    made = orjson.loads(bytes(created.body))["data"]["requestPayout"]
    assert made["userErrors"] == [] and made["payout"]["amount"] == 1_500
    assert made["payout"]["id"] != payout["id"]
    assert await _payout_count(db, org.id) == 2
