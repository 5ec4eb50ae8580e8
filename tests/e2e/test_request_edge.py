"""Malformed requests at the HTTP edge (issue 17, items 2–8 and 16): each gets a clear GraphQL
error with a code, never a 500, an INTERNAL or an error without ``extensions.code``."""

from __future__ import annotations

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from api.settings import Settings
from models.base import new_id, utcnow
from tests.support.graphql import GraphQLClient, error_codes
from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg

pytestmark = pytest.mark.e2e

JSON = {"content-type": "application/json"}
CREATE_GROUP = (
    "mutation($n: String!) { createPlanGroup(input: {name: $n}) { userErrors { code } } }"
)


def deeply_nested(depth: int) -> str:
    return "[" * depth + "]" * depth


async def post_raw(server: LiveServer, org: TestOrg, body: bytes) -> httpx.Response:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        return await client.http.post(server.graphql_url, content=body, headers=JSON)


def assert_bad_user_input(response: httpx.Response) -> dict[str, object]:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    result: dict[str, object] = response.json()
    assert error_codes(result) == ["BAD_USER_INPUT"], result
    return result


@pytest.mark.parametrize("body", [b"null", b'"s"', b"123", b"true", b"[]", b'[{"query":"{ x }"}]'])
async def test_json_body_that_is_not_an_object_is_a_clear_400(
    server: LiveServer, org: TestOrg, body: bytes
) -> None:
    result = assert_bad_user_input(await post_raw(server, org, body))
    assert "JSON object" in str(result)


async def test_body_that_is_not_utf8_is_a_clear_400(server: LiveServer, org: TestOrg) -> None:
    body = b'{"query": "{ viewer { livemode } }", "operationName": "\xff\xfe"}'
    result = assert_bad_user_input(await post_raw(server, org, body))
    assert "UTF-8" in str(result)


@pytest.mark.parametrize("depth", [100, 5_000, 40_000])
async def test_deeply_nested_variables_are_a_clear_400(
    server: LiveServer, org: TestOrg, depth: int
) -> None:
    body = b'{"query": "{ viewer { livemode } }", "variables": {"v": %s}}' % (
        deeply_nested(depth).encode()
    )
    result = assert_bad_user_input(await post_raw(server, org, body))
    assert "nests deeper" in str(result)


async def test_deeply_nested_signed_webhook_is_a_400(server: LiveServer) -> None:
    event_id = new_id("sbevt")
    head = f'{{"id":"{event_id}","type":"transfer.updated","created":"{utcnow().isoformat()}",'
    body = head + '"livemode":false,"data":{"object":{"id":"sbtr_x","status":"paid","meta":'
    body += deeply_nested(20_000) + "}}}"
    stamp = utcnow()
    headers = {
        "content-type": "application/json",
        "webhook-id": event_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": Webhook(Settings().sandbox_webhook_secret).sign(event_id, stamp, body),
    }
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{server.url}/webhooks/sandbox", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert "malformed" in response.json()["error"]


@pytest.mark.parametrize("where", ["variable", "nested variable", "inline"])
async def test_lone_surrogate_is_refused_at_the_edge_like_nul(
    server: LiveServer, org: TestOrg, where: str
) -> None:
    if where == "variable":
        body = b'{"query": "%s", "variables": {"n": "Plans \\ud800"}}' % CREATE_GROUP.encode()
    elif where == "nested variable":
        query = b"mutation($i: CreatePlanGroupInput!) { createPlanGroup(input: $i) { __typename } }"
        body = (
            b'{"query": "%s", "variables": {"i": {"name": "ok", "description": "\\udfff"}}}' % query
        )
    else:
        query = (
            b'mutation { createPlanGroup(input: {name: \\"x\\ud800\\"}) { userErrors { code } } }'
        )
        body = b'{"query": "%s"}' % query
    response = await post_raw(server, org, body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert error_codes(result) == ["BAD_USER_INPUT"], result
    assert result.get("data") is None


async def test_subscription_over_http_is_bad_user_input(server: LiveServer, org: TestOrg) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        response = await client.raw("subscription { balanceUpdated { __typename } }")
    result = assert_bad_user_input(response)
    assert "WebSocket" in str(result)


async def test_undefined_fragment_is_a_coded_validation_error(
    server: LiveServer, org: TestOrg
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        result = await client.execute("{ ...Nope viewer { ...AlsoNope } }")
    assert error_codes(result) == ["BAD_USER_INPUT", "BAD_USER_INPUT"], result
    assert "Unknown fragment 'Nope'" in str(result)


async def test_several_operations_without_operation_name_run_nothing(
    server: LiveServer, org: TestOrg
) -> None:
    document = (
        'mutation Make { createPlanGroup(input: {name: "Should not exist"}) { userErrors { code } } }'
        " query Look { planGroups(first: 100) { edges { node { name } } } }"
    )
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        refused = await client.execute(document)
        assert error_codes(refused) == ["BAD_USER_INPUT"], refused
        assert "operationName" in str(refused)
        groups = await client.data("{ planGroups(first: 100) { edges { node { name } } } }")
        named = await client.http.post(
            server.graphql_url, json={"query": document, "operationName": "Look"}
        )
    assert all(e["node"]["name"] != "Should not exist" for e in groups["planGroups"]["edges"])
    assert named.status_code == 200 and not named.json().get("errors"), named.text


async def test_trailing_slash_redirect_never_uses_the_host_header(server: LiveServer) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{server.url}/graphql/?a=1",
            headers={"host": "evil.example"},
            json={"query": "{ __typename }"},
        )
    assert response.status_code == 308
    assert response.headers["location"] == "/graphql?a=1"
