"""completeVerification with a real document URL: the resolver takes the guarded download
path (here reaching a local TLS server through an injected resolver, connector and trust
store) and stores nothing when the download is refused."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa
import strawberry
from sqlmodel import col

from api.composition import build_services
from api.schema import build_schema
from api.settings import Settings
from models import PayoutAccount, SandboxAccount
from resolvers.context import Context
from services.infra.database import Database
from services.organizations.api_keys import Viewer
from services.payout_accounts.documents import DocumentFetcher
from tests.conftest import make_org
from tests.support.accounts import COMPLETE_VERIFICATION, individual_input
from tests.support.tls_server import (
    RecordingListener,
    RedirectingConnector,
    TlsServer,
    recording_listener,
    static_resolver,
    tls_server,
)

PUBLIC_IP = "93.184.216.34"
PDF = b"%PDF-1.4\n" + b"x" * 2048


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema(Settings())


@pytest.fixture
async def docs() -> AsyncIterator[TlsServer]:
    async with tls_server("docs.example.com") as server:
        yield server


@pytest.fixture
async def listener() -> AsyncIterator[RecordingListener]:
    async with recording_listener() as live:
        yield live


async def run(
    schema: strawberry.Schema, db: Database, docs: TlsServer, url: str, *, livemode: bool = False
) -> tuple[dict[str, Any], str]:
    org = await make_org(db)
    # A long sandbox delay: no webhook of this test is due while the suite runs.
    settings = Settings(sandbox_delay_seconds=3600)
    fetcher = DocumentFetcher(
        resolver=static_resolver(  # type: ignore[arg-type]
            {"docs.example.com": [PUBLIC_IP], "private.example.com": ["10.0.0.7"]}
        ),
        connector=RedirectingConnector(docs.port),
        ssl_context=docs.client_context,
    )
    context = Context(
        db=db,
        request_id="req_test",
        viewer=Viewer(org.id, org.name, "US", "usd", livemode, "key_test"),
        services=replace(build_services(settings, db), document_fetcher=fetcher),
    )
    result = await schema.execute(
        COMPLETE_VERIFICATION,
        variable_values={"input": individual_input(document_url=url)},
        context_value=context,
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data["completeVerification"], org.id


async def stored(db: Database, org_id: str) -> tuple[int, list[str | None]]:
    async with db.read() as session:
        accounts = await session.execute(
            sa.select(sa.func.count()).where(col(PayoutAccount.organization_id) == org_id)
        )
        documents = await session.execute(
            sa.select(col(SandboxAccount.document_sha256)).where(
                col(SandboxAccount.idempotency_key).like(f"payout-account:{org_id}:%")
            )
        )
        return int(accounts.scalar_one()), list(documents.scalars())


async def test_downloaded_document_reaches_the_provider(
    schema: strawberry.Schema, db: Database, docs: TlsServer
) -> None:
    docs.routes["/passport.pdf"] = lambda: (200, [("content-type", "application/pdf")], [PDF])
    payload, org_id = await run(schema, db, docs, "https://docs.example.com/passport.pdf")
    assert payload["userErrors"] == [] and payload["outcome"] == "CREATED"
    assert await stored(db, org_id) == (1, [hashlib.sha256(PDF).hexdigest()])


@pytest.mark.parametrize("case", ["redirect-private", "redirect-name-private", "html", "too-big"])
async def test_refused_download_stores_nothing(
    schema: strawberry.Schema, db: Database, docs: TlsServer, listener: RecordingListener, case: str
) -> None:
    docs.routes["/redirect-private"] = lambda: (
        302,
        [("location", f"https://127.0.0.1:{listener.port}/id.pdf")],
        [],
    )
    docs.routes["/redirect-name-private"] = lambda: (
        302,
        [("location", "https://private.example.com/id.pdf")],
        [],
    )
    docs.routes["/html"] = lambda: (200, [("content-type", "text/html")], [b"<html></html>"])
    big = b"%PDF-" + b"0" * (1024 * 1024)
    docs.routes["/too-big"] = lambda: (200, [], [big] * 11)
    payload, org_id = await run(schema, db, docs, f"https://docs.example.com/{case}")
    assert [e["code"] for e in payload["userErrors"]] == ["DOCUMENT_URL_REJECTED"]
    assert payload["userErrors"][0]["field"] == ["input", "documentUrl"]
    assert payload["payoutAccount"] is None
    assert await stored(db, org_id) == (0, [])
    assert listener.connections == 0
