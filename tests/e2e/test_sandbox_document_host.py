"""The reserved test-mode document host (issue 17, item 15): ``docs.sandbox.test`` stands for a
valid document only once the URL passed the rules every document URL must meet."""

from __future__ import annotations

import pytest

from services.infra.database import Database
from tests.e2e.test_payout_accounts_rules import account_count, provider_account_count
from tests.support.accounts import complete_verification, individual_input
from tests.support.graphql import GraphQLClient
from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    "url",
    [
        "https://docs.sandbox.test:8443/id.pdf",
        "https://docs.sandbox.test:80/id.pdf",
        "https://user:secret@docs.sandbox.test/id.pdf",
        "https://docs.sandbox.test:99999/id.pdf",
    ],
)
async def test_reserved_host_obeys_port_and_form_rules(
    server: LiveServer, db: Database, org: TestOrg, url: str
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        result = await complete_verification(client, individual_input(document_url=url))
    assert result["payoutAccount"] is None
    codes = {e["code"] for e in result["userErrors"]}
    assert codes and codes <= {"DOCUMENT_URL_REJECTED", "VALIDATION_ERROR"}, result
    assert await account_count(db, org.id) == 0
    assert await provider_account_count(db, org.id) == 0


async def test_reserved_host_on_the_default_port_still_stands_for_a_document(
    server: LiveServer, org: TestOrg
) -> None:
    url = "https://docs.sandbox.test:443/id.pdf"
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        result = await complete_verification(client, individual_input(document_url=url))
    assert result["userErrors"] == [] and result["payoutAccount"] is not None, result
