"""Malformed connection cursors (issue 17, item 12): every one is BAD_USER_INPUT, whatever it
decodes to, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import base64

import pytest

from tests.support.graphql import GraphQLClient, error_codes
from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg

pytestmark = pytest.mark.e2e

PAYOUTS = "query($after: String) { payouts(first: 5, after: $after) { edges { cursor } } }"


def cursor_of(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "after",
    [
        cursor_of(b'["2026-01-01T00:00:00","po_x"]'),  # naive datetime
        cursor_of(b'["2026-01-01T00:00:00+00:00"]'),  # one element
        cursor_of(b'["2026-01-01T00:00:00+00:00","po_x","extra"]'),
        cursor_of(b'["2026-01-01T00:00:00+00:00",7]'),  # id not a string
        cursor_of(b'["2026-01-01T00:00:00+00:00","po x\\u0000"]'),  # not an id
        cursor_of(b"[" * 5000 + b"]" * 5000),  # deeply nested
        cursor_of(b"1e999"),
        cursor_of(b'["1e999","po_x"]'),
        cursor_of(b"1" * 4400),  # an integer over 4,300 digits
        cursor_of(b'{"a": 1}'),
        cursor_of(b"\xff\xfe"),
        "not base64 at all!",
        "",
    ],
)
async def test_malformed_cursor_is_bad_user_input(
    server: LiveServer, org: TestOrg, after: str
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        result = await client.execute(PAYOUTS, {"after": after})
    assert error_codes(result) == ["BAD_USER_INPUT"], result


async def test_a_cursor_the_server_made_still_pages(server: LiveServer, org: TestOrg) -> None:
    aware = cursor_of(b'["2026-01-01T00:00:00+00:00","po_x"]')
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        page = await client.data(PAYOUTS, {"after": aware})
    assert page["payouts"]["edges"] == []
