"""The schema as a client sees it through introspection on the live server (issue 17, items 19
to 21): every type, field, argument, input field and enum value is described."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import build_client_schema, get_introspection_query

from resolvers.descriptions import undescribed
from tests.support.graphql import GraphQLClient
from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg

pytestmark = pytest.mark.e2e


async def introspect(server: LiveServer, key: str) -> Any:
    async with GraphQLClient(server.graphql_url, key) as client:
        data = await client.data(get_introspection_query(descriptions=True))
    return build_client_schema(data)  # type: ignore[arg-type]


async def test_every_member_is_described_in_introspection(server: LiveServer, org: TestOrg) -> None:
    schema = await introspect(server, org.test_key)
    assert undescribed(schema) == []
