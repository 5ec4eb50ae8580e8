"""Runs last: every server log of the whole test run is JSON lines and holds no API key, no
webhook secret and no sensitive value any test registered (``tests/support/sensitive.py``).

Before reading, it tries to make the session server log secrets: a wrong key, a key and a
KYC-shaped number inside a broken query, a key in a GET query string, a forged webhook.
"""

from __future__ import annotations

import json

import httpx
import pytest

from api.settings import Settings
from tests.support.graphql import GraphQLClient
from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg
from tests.support.sensitive import (
    SENSITIVE_VALUES,
    SERVER_LOGS,
    remember_sensitive,
    scan_logs,
)

pytestmark = [pytest.mark.e2e, pytest.mark.run_last]

FAKE_KEY = "ck_test_" + "Zz9" * 14
FAKE_ID_NUMBER = "987654321"


async def _provoke(server: LiveServer, org: TestOrg) -> None:
    remember_sensitive(FAKE_KEY, FAKE_ID_NUMBER)
    async with GraphQLClient(server.graphql_url, FAKE_KEY) as stranger:
        await stranger.raw("{ viewer { livemode } }")
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        await client.raw(f'{{ node(id: "{org.live_key}") {{ id }} }}')
        await client.raw(f"{{ viewer {{ {FAKE_ID_NUMBER} {org.test_key} }} }}")
        await client.raw("query Q($n: String) { viewer { livemode } }", {"n": FAKE_ID_NUMBER})
        await client.http.get(
            server.graphql_url, params={"query": "{ viewer { livemode } }", "key": org.live_key}
        )
    async with httpx.AsyncClient() as http:
        await http.post(
            f"{server.url}/webhooks/sandbox",
            content=json.dumps({"idNumber": FAKE_ID_NUMBER, "key": org.test_key}),
            headers={"webhook-signature": f"v1,{org.live_key}", "webhook-id": "msg_1"},
        )
        await http.get(f"{server.url}/healthz")  # the request log line above is written by now


async def test_server_logs_hold_no_secrets_and_are_json_lines(
    server: LiveServer, org: TestOrg
) -> None:
    await _provoke(server, org)
    settings = Settings()
    secrets = SENSITIVE_VALUES | {settings.secret_key, settings.sandbox_webhook_secret}
    assert any(path.exists() for path in SERVER_LOGS), "no server log was written"
    leaks, not_json = scan_logs(SERVER_LOGS, secrets)
    assert not leaks, "secrets in server logs:\n" + "\n".join(leaks)
    assert not not_json, "log lines that are not JSON:\n" + "\n".join(not_json)


async def test_request_log_lines_carry_request_and_organization(
    server: LiveServer, org: TestOrg
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        response = await client.raw("query HygieneProbe { viewer { livemode } }")
    request_id = response.headers["x-request-id"]
    async with httpx.AsyncClient() as http:
        await http.get(f"{server.url}/healthz")
    entries = [json.loads(line) for line in server.log_text().splitlines() if request_id in line]
    access = [e for e in entries if e["logger"] == "payouts.access"]
    assert len(access) == 1
    assert access[0]["organization_id"] == org.id
    assert access[0]["operation"] == "HygieneProbe"
    assert access[0]["status"] == 200
