"""completeVerification's rules on the running server: idempotency, concurrency, validation,
the document guard, test helpers, and sensitive values kept out of DB, responses and logs."""

from __future__ import annotations

import asyncio
import copy
import json
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel, col

from models import PayoutAccount, ProviderEvent, SandboxAccount
from services.infra.database import Database
from tests.support.accounts import (
    COMPLETE_VERIFICATION,
    company_input,
    complete_verification,
    individual_input,
    wait_for_account_status,
)
from tests.support.graphql import GraphQLClient
from tests.support.live_server import LiveServer
from tests.support.orgs import TestOrg
from tests.support.webhooks import sandbox_event, signed

pytestmark = pytest.mark.e2e

SET_STATUS = """
mutation Set($input: TestSetPayoutAccountStatusInput!) {
  testSetPayoutAccountStatus(input: $input) {
    payoutAccount { id status }
    userErrors { code field }
  }
}
"""


async def account_count(db: Database, org_id: str) -> int:
    async with db.read() as session:
        result = await session.execute(
            sa.select(sa.func.count()).where(col(PayoutAccount.organization_id) == org_id)
        )
        return int(result.scalar_one())


async def provider_account_count(db: Database, org_id: str) -> int:
    async with db.read() as session:
        result = await session.execute(
            sa.select(sa.func.count()).where(
                col(SandboxAccount.idempotency_key).like(f"payout-account:{org_id}:%")
            )
        )
        return int(result.scalar_one())


async def test_same_idempotency_key_and_input_replays_the_payload(
    server: LiveServer, org: TestOrg
) -> None:
    input = individual_input(idempotencyKey="kyc-1")
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        first = await complete_verification(client, input)
        second = await complete_verification(client, input)
        other_key = await complete_verification(client, {**input, "idempotencyKey": "kyc-2"})
    assert first["outcome"] == "CREATED"
    assert second == first  # the stored payload, not a fresh EXISTING
    assert other_key["outcome"] == "EXISTING"


async def test_same_key_with_different_input_is_a_mismatch(
    server: LiveServer, db: Database, org: TestOrg
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        first = await complete_verification(client, individual_input(idempotencyKey="kyc-m"))
        changed = individual_input(idempotencyKey="kyc-m", email="changed@example.com")
        second = await complete_verification(client, changed)
    assert first["outcome"] == "CREATED"
    assert [e["code"] for e in second["userErrors"]] == ["IDEMPOTENCY_KEY_MISMATCH"]
    assert await account_count(db, org.id) == 1


async def test_idempotency_key_header_is_honoured(server: LiveServer, org: TestOrg) -> None:
    headers = {"Idempotency-Key": "kyc-header"}
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        first = await complete_verification(client, individual_input(), headers)
        second = await complete_verification(client, individual_input(), headers)
        mismatch = await complete_verification(client, company_input(), headers)
    assert first["outcome"] == "CREATED" and second == first
    assert [e["code"] for e in mismatch["userErrors"]] == ["IDEMPOTENCY_KEY_MISMATCH"]


async def test_twenty_concurrent_calls_create_one_account(
    server: LiveServer, db: Database, org: TestOrg
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        results = await asyncio.gather(
            *(complete_verification(client, individual_input()) for _ in range(20))
        )
    assert all(r["userErrors"] == [] for r in results), results
    assert sorted(r["outcome"] for r in results) == ["CREATED"] + ["EXISTING"] * 19
    assert len({r["payoutAccount"]["id"] for r in results}) == 1
    assert await account_count(db, org.id) == 1
    assert await provider_account_count(db, org.id) == 1


async def test_twenty_concurrent_calls_with_one_key_create_one_account(
    server: LiveServer, db: Database, org: TestOrg
) -> None:
    input = individual_input(idempotencyKey="kyc-race")
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        results = await asyncio.gather(*(complete_verification(client, input) for _ in range(20)))
    outcomes = [r["outcome"] for r in results if not r["userErrors"]]
    errors = {e["code"] for r in results for e in r["userErrors"]}
    assert outcomes and set(outcomes) == {"CREATED"}
    assert errors <= {"IDEMPOTENCY_IN_PROGRESS"}
    assert await account_count(db, org.id) == 1


def invalid_inputs() -> list[tuple[str, dict[str, Any], list[str]]]:
    base = individual_input()
    cases: list[tuple[str, dict[str, Any], list[str]]] = []

    def case(name: str, field: list[str], change: Any) -> None:
        data = copy.deepcopy(base)
        change(data)
        cases.append((name, data, field))

    case("email", ["input", "email"], lambda d: d.update(email="not-an-email"))
    case(
        "business-url-http",
        ["input", "businessUrl"],
        lambda d: d.update(businessUrl="http://a.com"),
    )
    case("document-url", ["input", "documentUrl"], lambda d: d.update(documentUrl="ftp://x/y"))
    case(
        "country",
        ["input", "individual", "address", "country"],
        lambda d: d["individual"]["address"].update(country="XX"),
    )
    case(
        "dob-format",
        ["input", "individual", "dateOfBirth"],
        lambda d: d["individual"].update(dateOfBirth="10/12/1985"),
    )
    case(
        "dob-minor",
        ["input", "individual", "dateOfBirth"],
        lambda d: d["individual"].update(dateOfBirth="2020-01-01"),
    )
    case(
        "dob-future",
        ["input", "individual", "dateOfBirth"],
        lambda d: d["individual"].update(dateOfBirth="2999-01-01"),
    )
    case(
        "dob-ancient",
        ["input", "individual", "dateOfBirth"],
        lambda d: d["individual"].update(dateOfBirth="1800-01-01"),
    )
    case(
        "ssn",
        ["input", "individual", "ssnLast4"],
        lambda d: d["individual"].update(ssnLast4="12345"),
    )
    case(
        "account-number",
        ["input", "bank", "accountNumber"],
        lambda d: d["bank"].update(accountNumber="12"),
    )
    case("missing-individual", ["input", "individual"], lambda d: d.pop("individual"))
    case(
        "company-with-individual",
        ["input", "company"],
        lambda d: d.update(company=company_input()["company"]),
    )
    case(
        "first-name",
        ["input", "individual", "firstName"],
        lambda d: d["individual"].update(firstName="  "),
    )
    return cases


@pytest.mark.parametrize(
    ("name", "input", "field"), invalid_inputs(), ids=[c[0] for c in invalid_inputs()]
)
async def test_invalid_input_is_a_validation_error_and_writes_nothing(
    server: LiveServer,
    db: Database,
    org: TestOrg,
    name: str,
    input: dict[str, Any],
    field: list[str],
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        result = await complete_verification(client, input)
    assert result["payoutAccount"] is None
    assert {e["code"] for e in result["userErrors"]} == {"VALIDATION_ERROR"}
    assert field in [e["field"] for e in result["userErrors"]]
    assert await account_count(db, org.id) == 0
    assert await provider_account_count(db, org.id) == 0


async def test_company_without_company_block_is_a_validation_error(
    server: LiveServer, db: Database, org: TestOrg
) -> None:
    input = company_input()
    input["individual"] = individual_input()["individual"]
    del input["company"]
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        result = await complete_verification(client, input)
    fields = sorted(e["field"] for e in result["userErrors"])
    assert fields == [["input", "company"], ["input", "individual"]]
    assert await account_count(db, org.id) == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://docs.sandbox.test/id.pdf",
        "https://127.0.0.1/id.pdf",
        "https://localhost/id.pdf",
        "https://[::1]/id.pdf",
        "https://169.254.169.254/latest/meta-data",
    ],
)
async def test_refused_document_url_stores_nothing(
    server: LiveServer, db: Database, org: TestOrg, url: str
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        result = await complete_verification(client, individual_input(document_url=url))
    codes = {e["code"] for e in result["userErrors"]}
    assert codes <= {"DOCUMENT_URL_REJECTED", "VALIDATION_ERROR"} and codes
    assert all(e["field"] == ["input", "documentUrl"] for e in result["userErrors"])
    assert await account_count(db, org.id) == 0
    assert await provider_account_count(db, org.id) == 0


async def test_live_mode_is_refused_before_any_download(
    server: LiveServer, db: Database, org: TestOrg
) -> None:
    # Live mode has no provider: the answer is PROVIDER_NOT_CONFIGURED before any download.
    async with GraphQLClient(server.graphql_url, org.live_key) as client:
        result = await complete_verification(client, individual_input())
    assert [e["code"] for e in result["userErrors"]] == ["PROVIDER_NOT_CONFIGURED"]
    assert await account_count(db, org.id) == 0


async def test_set_status_goes_through_the_sandbox_webhook(
    server: LiveServer, org: TestOrg
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        await complete_verification(client, individual_input())
        await wait_for_account_status(client, "VERIFIED")
        restricted = await client.data(SET_STATUS, {"input": {"status": "RESTRICTED"}})
        account = await wait_for_account_status(client, "RESTRICTED")
        assert account["transfersEnabled"] is False
        await client.data(SET_STATUS, {"input": {"status": "VERIFIED"}})
        account = await wait_for_account_status(client, "VERIFIED")
        await client.data(SET_STATUS, {"input": {"status": "DISABLED"}})
        await wait_for_account_status(client, "DISABLED")
        back = await client.data(SET_STATUS, {"input": {"status": "VERIFIED"}})
    assert restricted["testSetPayoutAccountStatus"]["userErrors"] == []
    assert restricted["testSetPayoutAccountStatus"]["payoutAccount"]["status"] == "VERIFIED"
    assert account["transfersEnabled"] is True
    assert back["testSetPayoutAccountStatus"]["userErrors"] == [
        {"code": "INVALID_TRANSITION", "field": ["input", "status"]}
    ]


async def test_set_status_is_test_mode_only(server: LiveServer, org: TestOrg) -> None:
    async with GraphQLClient(server.graphql_url, org.live_key) as client:
        live = await client.data(SET_STATUS, {"input": {"status": "VERIFIED"}})
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        missing = await client.data(SET_STATUS, {"input": {"status": "VERIFIED"}})
    assert live["testSetPayoutAccountStatus"]["userErrors"][0]["code"] == "TEST_MODE_ONLY"
    assert (
        missing["testSetPayoutAccountStatus"]["userErrors"][0]["code"] == "PAYOUT_ACCOUNT_REQUIRED"
    )


async def test_account_webhook_delivered_five_times_is_applied_once(
    server: LiveServer, db: Database, org: TestOrg
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        await complete_verification(client, individual_input())
        await wait_for_account_status(client, "VERIFIED")
    async with db.read() as session:
        account = (
            await session.execute(
                sa.select(PayoutAccount).where(col(PayoutAccount.organization_id) == org.id)
            )
        ).scalar_one()
    payload = sandbox_event(
        "account.updated", {"id": account.provider_account_id, "status": "restricted"}
    )
    body, headers = signed(payload)
    async with httpx.AsyncClient() as http:
        responses = [
            await http.post(f"{server.url}/webhooks/sandbox", content=body, headers=headers)
            for _ in range(5)
        ]
    assert [r.json()["applied"] for r in responses] == [True, False, False, False, False]
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        assert (await client.data("{ payoutAccount { status } }"))["payoutAccount"][
            "status"
        ] == "RESTRICTED"


SECRETS = {
    "account number": "987654321012",
    "id number": "A1B2C3D4E5",
    "tax id": "TX-99-8877665",
    "date of birth": "1979-03-14",
}


async def dump_database(db: Database) -> str:
    lines: list[str] = []
    async with db.read() as session:
        for table in SQLModel.metadata.sorted_tables:
            for row in (await session.execute(sa.select(table))).all():
                lines.append(f"{table.name}: {tuple(row)!r}")
    return "\n".join(lines)


async def test_sensitive_values_never_reach_db_responses_or_logs(
    server: LiveServer, db: Database, org: TestOrg
) -> None:
    individual = individual_input(
        account_number=SECRETS["account number"], id_number=SECRETS["id number"]
    )
    individual["individual"]["dateOfBirth"] = SECRETS["date of birth"]
    individual["individual"]["ssnLast4"] = "8642"
    responses: list[str] = []
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        responses.append(json.dumps(await complete_verification(client, individual)))
        invalid = copy.deepcopy(individual)
        invalid["individual"]["idNumber"] = SECRETS["id number"] + "!!"
        invalid["bank"]["accountNumber"] = SECRETS["account number"] + "x"
        responses.append((await client.raw(COMPLETE_VERIFICATION, {"input": invalid})).text)
        await wait_for_account_status(client, "VERIFIED")
        responses.append(
            (
                await client.raw(
                    "{ payoutAccount { id email defaultBankAccount { last4 providerExternalAccountId } } "
                    "bankAccounts { edges { node { last4 accountHolderName } } } }"
                )
            ).text
        )
        responses.append(
            (
                await client.raw(
                    "mutation($i: AddBankAccountInput!) { addBankAccount(input: $i) { "
                    "bankAccount { last4 } userErrors { message } } }",
                    {"i": {"accountNumber": SECRETS["account number"], "accountHolderName": "Ada"}},
                )
            ).text
        )
        # Wrong GraphQL types: the rejected value must not be quoted back.
        mistyped = copy.deepcopy(individual)
        mistyped["bank"]["accountNumber"] = int(SECRETS["account number"])
        responses.append((await client.raw(COMPLETE_VERIFICATION, {"input": mistyped})).text)
        responses.append(
            (
                await client.raw(
                    "mutation { addBankAccount(input: {accountNumber: "
                    + SECRETS["account number"]
                    + ', accountHolderName: "A"}) { userErrors { code } } }'
                )
            ).text
        )
    async with GraphQLClient(server.graphql_url, org.live_key) as client:
        company = company_input(tax_id=SECRETS["tax id"])
        responses.append((await client.raw(COMPLETE_VERIFICATION, {"input": company})).text)
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        # A rejected (validation) tax id in test mode, to exercise error paths too.
        responses.append(
            (
                await client.raw(
                    COMPLETE_VERIFICATION, {"input": company_input(tax_id=SECRETS["tax id"] + "#")}
                )
            ).text
        )
    await asyncio.sleep(0.3)  # let log lines flush
    database = await dump_database(db)
    log = server.log_text()
    for name, value in SECRETS.items():
        digits = value.replace("-", "")
        for where, text in (
            ("database", database),
            ("responses", "\n".join(responses)),
            ("log", log),
        ):
            assert value not in text, f"{name} found in {where}"
            assert digits not in text.replace("-", ""), f"{name} digits found in {where}"
    for where, text in (("database", database), ("responses", "\n".join(responses)), ("log", log)):
        assert "1979, 3, 14" not in text, f"date of birth found in {where}"
    for where, text in (("database", database), ("responses", "\n".join(responses)), ("log", log)):
        assert not re.search(r"\b8642\b", text), f"SSN digits found in {where}"


@pytest.mark.parametrize("problem", ["stale", "bad-signature"])
async def test_badly_signed_account_event_is_refused_and_changes_nothing(
    server: LiveServer, db: Database, org: TestOrg, problem: str
) -> None:
    async with GraphQLClient(server.graphql_url, org.test_key) as client:
        await complete_verification(client, individual_input())
        await wait_for_account_status(client, "VERIFIED")
    async with db.read() as session:
        account = (
            await session.execute(
                sa.select(PayoutAccount).where(col(PayoutAccount.organization_id) == org.id)
            )
        ).scalar_one()
    payload = sandbox_event(
        "account.updated", {"id": account.provider_account_id, "status": "rejected"}
    )
    if problem == "stale":
        body, headers = signed(payload, age=timedelta(minutes=6))
    else:
        body, headers = signed(payload)
        headers["webhook-signature"] = "v1,AAAA" + headers["webhook-signature"][7:]
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{server.url}/webhooks/sandbox", content=body, headers=headers)
    assert response.status_code in (400, 401)
    async with db.read() as session:
        stored = await session.execute(
            sa.select(sa.func.count()).where(col(ProviderEvent.event_id) == payload["id"])
        )
        assert stored.scalar_one() == 0
        row = await session.get(PayoutAccount, account.id)
    assert row is not None and row.status == "VERIFIED"
