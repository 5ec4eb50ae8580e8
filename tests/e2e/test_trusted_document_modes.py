"""Trusted-document modes and start-up refusals: ``all`` binds keys too, ``off`` binds no one;
a bad manifest or a development secret in production shape stops the start."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from api.app import ConfigurationError, check_production_secrets, create_app
from api.settings import DEV_CLIENT_SESSION_SECRET, Settings
from tests.support.client_sessions import document_id, mint, write_manifest
from tests.support.graphql import GraphQLClient, error_codes
from tests.support.live_server import ROOT, free_port, server_env, start_server
from tests.support.orgs import TestOrg

pytestmark = pytest.mark.e2e

BALANCE = "query Balance { balance { currency } }"


async def test_mode_all_binds_api_keys_too(database_url: str, tmp_path: Path, org: TestOrg) -> None:
    manifest = write_manifest(tmp_path / "documents.json", [BALANCE])
    with start_server(
        database_url,
        tmp_path / "server.log",
        PAYOUTS_TRUSTED_DOCUMENTS=str(manifest),
        PAYOUTS_TRUSTED_DOCUMENTS_MODE="all",
    ) as server:
        async with GraphQLClient(server.graphql_url, org.test_key) as client:
            raw = await client.execute("{ viewer { livemode } }")
            assert error_codes(raw) == ["PERSISTED_QUERY_ID_REQUIRED"]
            named = await client.http.post(
                server.graphql_url, json={"documentId": document_id(BALANCE)}
            )
            assert named.json()["data"] == {"balance": {"currency": "usd"}}


async def test_mode_off_lets_tokens_send_queries(
    database_url: str, tmp_path: Path, org: TestOrg
) -> None:
    manifest = write_manifest(tmp_path / "documents.json", [BALANCE])
    with start_server(
        database_url,
        tmp_path / "server.log",
        PAYOUTS_TRUSTED_DOCUMENTS=str(manifest),
        PAYOUTS_TRUSTED_DOCUMENTS_MODE="off",
    ) as server:
        token = await mint(server.graphql_url, org.test_key, ["PAYOUTS_READ"])
        async with GraphQLClient(server.graphql_url, token) as client:
            assert (await client.data("{ balance { currency } }"))["balance"]["currency"] == "usd"
            named = await client.http.post(
                server.graphql_url, json={"documentId": document_id(BALANCE)}
            )
            assert named.json()["data"] == {"balance": {"currency": "usd"}}
            refused = await client.execute("{ plans { edges { cursor } } }")
            assert error_codes(refused) == ["FORBIDDEN"]


def serve(env_overrides: dict[str, str], database_url: str) -> subprocess.CompletedProcess[str]:
    env = server_env(database_url, free_port(), **env_overrides)
    return subprocess.run(
        [sys.executable, "-m", "api.cli", "serve"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_bad_manifest_stops_the_start_naming_the_document(tmp_path: Path) -> None:
    bad = "query Broken { nope }"
    bad_id = f"sha256:{document_id(bad)}"
    manifest = tmp_path / "documents.json"
    manifest.write_text(json.dumps({f"sha256:{document_id(BALANCE)}": BALANCE, bad_id: bad}))
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'never.db'}"
    result = serve({"PAYOUTS_TRUSTED_DOCUMENTS": str(manifest)}, database_url)
    assert result.returncode == 2
    assert bad_id in result.stderr and "Cannot query field 'nope'" in result.stderr
    assert "Traceback" not in result.stderr
    result = serve({"PAYOUTS_TRUSTED_DOCUMENTS": str(tmp_path / "missing.json")}, database_url)
    assert result.returncode == 2 and "missing.json" in result.stderr


def test_the_development_secret_is_refused_in_production_shape() -> None:
    production = Settings(
        database_url="postgresql+asyncpg://postgres@127.0.0.1:5432/none",
        client_session_secret=DEV_CLIENT_SESSION_SECRET,
    )
    with pytest.raises(ConfigurationError, match="PAYOUTS_CLIENT_SESSION_SECRET"):
        check_production_secrets(production)
    with pytest.raises(ConfigurationError):
        create_app(production)
    check_production_secrets(Settings(database_url="sqlite+aiosqlite:///x.db"))  # embedded: fine
    with pytest.raises(ValidationError):
        Settings(client_session_secret="too short")


def test_a_mode_that_binds_needs_a_manifest() -> None:
    with pytest.raises(ValidationError, match="PAYOUTS_TRUSTED_DOCUMENTS"):
        Settings(trusted_documents_mode="client_sessions")
    assert Settings().trusted_documents_enforcement == "off"
    assert Settings(trusted_documents="x.json").trusted_documents_enforcement == "client_sessions"
