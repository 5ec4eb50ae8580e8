"""/api/v1 over plain HTTP: authentication, request ids, the error envelope for every kind of
bad request, versions, idempotency details and the rate limit shared with GraphQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.infra.database import Database
from tests.conftest import make_org
from tests.support.graphql import GraphQLClient
from tests.support.live_server import LiveServer, start_server
from tests.support.orgs import TestOrg
from tests.support.rest import LEGACY_VERSION, RestClient

pytestmark = pytest.mark.e2e


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert body["success"] is False, body
    assert set(body["error"]) == {"type", "code", "message", "param", "details", "doc_url"}
    error: dict[str, Any] = body["error"]
    return error


@pytest.mark.parametrize(
    "headers", [{}, {"x-api-key": "ck_test_nope"}, {"authorization": "Basic x"}]
)
async def test_without_a_valid_key_401(server: LiveServer, headers: dict[str, str]) -> None:
    async with RestClient(server) as rest:
        response = await rest.request("GET", "/plan-groups", headers=headers)
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"
    assert error_of(response)["type"] == "authentication_error"
    assert response.headers["x-request-id"].startswith("req_")


async def test_bearer_key_works_like_x_api_key(server: LiveServer, org: TestOrg) -> None:
    async with RestClient(server) as rest:
        response = await rest.request(
            "POST",
            "/plan-groups",
            json={"name": "Bearer"},
            headers={"authorization": f"Bearer {org.live_key}"},
        )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["livemode"] is True


async def test_every_response_has_a_request_id(server: LiveServer, org: TestOrg) -> None:
    async with RestClient(server, org.test_key) as rest:
        responses = [
            await rest.request("GET", "/plan-groups"),
            await rest.request("GET", "/nowhere"),
            await rest.request("POST", "/payouts", content=b"{"),
            await rest.request("GET", "/openapi.json"),
            await rest.request("GET", "/plan-groups", headers={"x-request-id": "trace-12345678"}),
        ]
    assert all(r.headers["x-request-id"].startswith("req_") for r in responses[:4])
    assert responses[4].headers["x-request-id"] == "trace-12345678"


async def test_routing_faults_use_the_envelope(server: LiveServer, org: TestOrg) -> None:
    async with RestClient(server, org.test_key) as rest:
        missing = await rest.request("GET", "/payouts/nowhere")
        wrong_method = await rest.request("GET", "/payouts")
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
    assert wrong_method.status_code == 405
    assert error_of(wrong_method)["code"] == "method_not_allowed"
    assert wrong_method.headers["allow"] == "POST"


@pytest.mark.parametrize(
    ("content", "code", "field"),
    [
        (b"{", "invalid_json", None),
        (b"[1]", "validation_error", "body"),
        (b'{"amount": "5000"}', "validation_error", "amount"),
        (b'{"amount": 5000.0}', "validation_error", "amount"),
        (b'{"amount": 9007199254740992}', "validation_error", "amount"),
        (b'{"amount": 5000, "description": "a\\u0000b"}', "validation_error", "description"),
        (b'{"amount": 5000, "description": "\\ud800"}', "invalid_json", None),
        (b'{"amount": 5000, "Amount": 1}', "validation_error", "Amount"),
    ],
)
async def test_malformed_bodies_are_refused_by_field(
    server: LiveServer, org: TestOrg, content: bytes, code: str, field: str | None
) -> None:
    async with RestClient(server, org.test_key) as rest:
        response = await rest.request("POST", "/payouts", content=content)
    error = error_of(response)
    assert error["code"] == code, error
    assert response.status_code == (400 if code == "invalid_json" else 422)
    if field is not None:
        assert error["param"] == field
        assert error["details"] and error["details"][0]["field"] == field


async def test_nested_problems_are_reported_with_dotted_paths(
    server: LiveServer, org: TestOrg
) -> None:
    body: dict[str, Any] = {
        "email": "not-an-email",
        "businessType": "individual",
        "businessUrl": "https://ada.example.com",
        "documentUrl": "https://docs.sandbox.test/id.pdf",
        "bank": {"accountNumber": "000123456789", "accountHolderName": "Ada", "iban": "x"},
        "individual": {
            "firstName": "Ada",
            "lastName": "L",
            "phone": "+14155550100",
            "dateOfBirth": "1985-12-10",
            "address": {"line1": "1 Way", "city": "London", "postalCode": "N1", "country": "GB"},
        },
    }
    async with RestClient(server, org.test_key) as rest:
        shape = await rest.request("POST", "/payouts/verification", json=body)
        del body["bank"]["iban"]
        body["individual"]["address"]["country"] = "XX"
        rules = await rest.request("POST", "/payouts/verification", json=body)
    assert [d["field"] for d in error_of(shape)["details"]] == ["bank.iban"]
    fields = {d["field"] for d in error_of(rules)["details"]}
    assert fields == {"email", "individual.address.country"}


async def test_path_ids_of_any_shape_are_not_found(server: LiveServer, org: TestOrg) -> None:
    async with RestClient(server, org.test_key) as rest:
        nul = await rest.request("GET", "/plan-groups/plg_%00x")
        long = await rest.request("GET", "/plan-groups/" + "x" * 5000)
        odd = await rest.request("DELETE", "/plan-groups/%E2%80%AE/plans/%F0%9F%92%A5")
    assert [r.status_code for r in (nul, long, odd)] == [404, 404, 404]


async def test_modes_do_not_see_each_other(server: LiveServer, org: TestOrg) -> None:
    async with RestClient(server, org.test_key) as test, RestClient(server, org.live_key) as live:
        created = (await test.request("POST", "/plan-groups", json={"name": "Test"})).json()["data"]
        from_live = await live.request("GET", f"/plan-groups/{created['id']}")
        listed = (await live.request("GET", "/plan-groups")).json()["data"]["data"]
    assert from_live.status_code == 404
    assert created["id"] not in [g["id"] for g in listed]


async def test_version_header_chooses_the_list_shape(server: LiveServer, org: TestOrg) -> None:
    async with RestClient(server, org.test_key) as rest:
        await rest.request("POST", "/plan-groups", json={"name": "V"})
        current = (await rest.request("GET", "/plan-groups?limit=1")).json()
        legacy = (
            await rest.request(
                "GET", "/plan-groups?limit=1", headers={"commet-version": LEGACY_VERSION}
            )
        ).json()
        unknown = (
            await rest.request("GET", "/plan-groups?limit=1", headers={"commet-version": "soon"})
        ).json()
    assert current["data"]["object"] == "list" and len(current["data"]["data"]) == 1
    assert isinstance(legacy["data"], list) and "hasMore" in legacy
    assert unknown["data"]["object"] == "list"


async def test_bad_page_requests(server: LiveServer, org: TestOrg) -> None:
    async with RestClient(server, org.test_key) as rest:
        too_big = await rest.request("GET", "/plan-groups?limit=101")
        bad_cursor = await rest.request("GET", "/plan-groups?cursor=nonsense")
        unknown = await rest.request("GET", "/plan-groups?page=2")
    assert error_of(too_big)["param"] == "limit"
    assert error_of(bad_cursor)["param"] == "cursor"
    assert error_of(unknown)["param"] == "page"


async def test_idempotency_keys_are_per_operation_and_protocol(
    server: LiveServer, org: TestOrg
) -> None:
    key = f"shared-{uuid.uuid4()}"
    async with RestClient(server, org.test_key) as rest:
        headers = {"idempotency-key": key}
        first = await rest.request("POST", "/plan-groups", json={"name": "K"}, headers=headers)
        replay = await rest.request("POST", "/plan-groups", json={"name": "K"}, headers=headers)
        other_op = await rest.request(
            "POST", "/plans", json={"name": "K", "code": "k"}, headers=headers
        )
        too_long = await rest.request(
            "POST", "/plan-groups", json={"name": "K"}, headers={"idempotency-key": "k" * 256}
        )
    assert first.status_code == replay.status_code == 200
    assert replay.json() == first.json()
    assert (
        replay.headers["idempotent-replayed"] == "true"
        and "idempotent-replayed" not in first.headers
    )
    assert (other_op.status_code, error_of(other_op)["code"]) == (409, "idempotency_key_mismatch")
    assert error_of(too_long)["param"] == "Idempotency-Key"
    async with GraphQLClient(server.graphql_url, org.test_key) as gql:
        result = await gql.data(
            'mutation($k: String) { createPlanGroup(input: {name: "K", idempotencyKey: $k}) '
            "{ planGroup { id } userErrors { code } } }",
            {"k": key},
        )
    assert result["createPlanGroup"]["userErrors"] == [{"code": "IDEMPOTENCY_KEY_MISMATCH"}]


async def test_stored_failures_replay_and_validation_failures_free_the_key(
    server: LiveServer, org: TestOrg
) -> None:
    async with RestClient(server, org.test_key) as rest:
        key = {"idempotency-key": f"fail-{uuid.uuid4()}"}
        refused = await rest.request("POST", "/payouts", json={"amount": 5_000}, headers=key)
        again = await rest.request("POST", "/payouts", json={"amount": 5_000}, headers=key)
        key = {"idempotency-key": f"fix-{uuid.uuid4()}"}
        invalid = await rest.request("POST", "/plan-groups", json={"name": ""}, headers=key)
        fixed = await rest.request("POST", "/plan-groups", json={"name": "Fixed"}, headers=key)
    assert refused.status_code == again.status_code == 409
    assert again.json() == refused.json() and again.headers["idempotent-replayed"] == "true"
    assert invalid.status_code == 422 and fixed.status_code == 200


@pytest.fixture(scope="module")
def limited_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A 10-token bucket refilling 0.01 token/s, shared by GraphQL and REST."""
    log = tmp_path_factory.mktemp("rest-limits") / "server.log"
    with start_server(
        database_url,
        Path(log),
        PAYOUTS_RATE_LIMIT_BUCKET_SIZE="10",
        PAYOUTS_RATE_LIMIT_REFILL_PER_SECOND="0.01",
        PAYOUTS_MAX_QUERY_COST="10",
    ) as live:
        yield live


async def test_rest_and_graphql_share_one_rate_limit(
    limited_server: LiveServer, db: Database
) -> None:
    org = await make_org(db, "Limited")
    async with RestClient(limited_server, org.test_key) as rest:
        statuses = [
            (await rest.request("GET", "/plan-groups?limit=1")).status_code for _ in range(5)
        ]
        limited = await rest.request("GET", "/plan-groups?limit=1")
        huge = await rest.request("GET", "/plan-groups?limit=100")
    assert statuses == [200] * 5  # 2 tokens each
    assert limited.status_code == huge.status_code == 429
    assert error_of(limited)["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    async with GraphQLClient(limited_server.graphql_url, org.test_key) as gql:
        response = await gql.raw("{ viewer { livemode } }")
    assert response.status_code == 429
    other = await make_org(db, "Not limited")
    async with RestClient(limited_server, other.test_key) as rest:
        assert (await rest.request("GET", "/plan-groups?limit=1")).status_code == 200


async def test_concurrent_retries_make_one_payout_or_wait(server: LiveServer, org: TestOrg) -> None:
    """Two requests with one key at the same time: one payout at most; the other replays it or
    is told to retry (``idempotency_in_progress``)."""
    from tests.support.payout_setup import verify_through_api
    from tests.support.payouts import balance, credit

    await verify_through_api(server, org)
    async with GraphQLClient(server.graphql_url, org.test_key) as gql:
        await credit(gql, 20_000)
    headers = {"idempotency-key": f"race-{uuid.uuid4()}"}
    async with RestClient(server, org.test_key) as rest:
        responses = await asyncio.gather(
            *(
                rest.request("POST", "/payouts", json={"amount": 5_000}, headers=headers)
                for _ in range(4)
            )
        )
    made = {r.json()["data"]["id"] for r in responses if r.status_code == 200}
    waits = [error_of(r)["code"] for r in responses if r.status_code != 200]
    assert len(made) == 1
    assert set(waits) <= {"idempotency_in_progress"}
    async with GraphQLClient(server.graphql_url, org.test_key) as gql:
        assert (await balance(gql))["available"] == 15_000


async def test_paths_with_line_breaks_get_the_envelope(server: LiveServer, org: TestOrg) -> None:
    async with RestClient(server, org.test_key) as rest:
        response = await rest.request("PATCH", "/plan-groups/a%0Ab", json={})
        nowhere = await rest.request("GET", "/no%0Awhere")
    assert response.status_code == 404 and error_of(response)["code"] == "plan_group_not_found"
    assert nowhere.status_code == 404 and error_of(nowhere)["code"] == "not_found"


async def test_access_log_names_the_operation(server: LiveServer, org: TestOrg) -> None:
    async with RestClient(server, org.test_key) as rest:
        response = await rest.request("POST", "/plan-groups", json={"name": "Logged"})
    request_id = response.headers["x-request-id"]
    for _ in range(50):
        lines = [json.loads(line) for line in server.log_text().splitlines() if request_id in line]
        access = [line for line in lines if line.get("route") == "/api/v1"]
        if access:
            break
        await asyncio.sleep(0.1)
    assert access, lines
    assert access[0]["operation"] == "create-plan-group"
    assert access[0]["organization_id"] == org.id


async def test_too_large_bodies_get_413_in_the_envelope(server: LiveServer, org: TestOrg) -> None:
    big = b'{"name": "' + b"x" * 200_000 + b'"}'

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 16_384):
            yield big[start : start + 16_384]

    async with RestClient(server, org.test_key) as rest:
        declared = await rest.request("POST", "/plan-groups", content=big)
        streamed = await rest.request("POST", "/plan-groups", content=chunks())
    for response in (declared, streamed):
        assert response.status_code == 413
        assert error_of(response)["code"] == "request_too_large"
