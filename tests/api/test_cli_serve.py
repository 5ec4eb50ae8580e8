"""The ``payouts`` command as a newcomer meets it, run for real in a subprocess: its help, its
refusals (each one line saying what to do next) and ``serve`` with several workers."""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.cli import build_parser
from tests.conftest import BACKEND, PG_ADMIN_URL
from tests.support.live_server import ROOT, LiveServer, free_port, server_env, stop
from tests.support.live_server import wait_until_ready as wait_ready

pytestmark = pytest.mark.e2e


def payouts(
    *args: str, database_url: str, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=ROOT,
        env=server_env(database_url, free_port(), **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A database of this test's own, never migrated."""
    if BACKEND == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    from tests.support.postgres import create_database, drop_database

    name = f"payouts_test_{uuid.uuid4().hex[:12]}"
    url = create_database(PG_ADMIN_URL, name)
    try:
        yield url
    finally:
        drop_database(PG_ADMIN_URL, name)


def test_every_option_has_help_and_the_top_level_help_is_plain_text() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            assert action.help, f"payouts {name} {action.option_strings or action.dest}: no help"
    shown = subprocess.run(
        [sys.executable, "-m", "api.cli", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "``" not in shown and ".venv/bin/payouts" in shown


def test_create_org_refuses_a_country_iso_3166_does_not_assign(private_database_url: str) -> None:
    refused = payouts(
        "create-org", "--name", "Acme", "--country", "XX", database_url=private_database_url
    )
    assert refused.returncode == 2 and refused.stdout == ""
    error = json.loads(refused.stderr)
    assert error["error"] == "VALIDATION_ERROR" and "ISO 3166" in error["message"]
    created = payouts(
        "create-org", "--name", "Acme", "--country", "gb", database_url=private_database_url
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["testKey"].startswith("ck_test_")


def test_serve_on_a_port_in_use_says_which_and_how_to_choose_another(
    private_database_url: str,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = payouts("serve", "--port", str(port), database_url=private_database_url)
    assert result.returncode == 2
    assert "Payouts GraphQL API" not in result.stdout  # no banner for a server that never ran
    assert "startup complete" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert f"127.0.0.1:{port}" in line and "--port" in line and "PAYOUTS_PORT" in line


def test_serve_with_workers_on_a_database_never_migrated_says_run_migrate(
    empty_database_url: str,
) -> None:
    # SQLite migrates itself unless told not to; several workers on PostgreSQL never do.
    args = ["--workers", "2"] if BACKEND == "postgres" else ["--no-migrate"]
    result = payouts("serve", *args, database_url=empty_database_url)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "never migrated" in line and "payouts migrate" in line
    assert "Traceback" not in result.stderr


@pytest.mark.postgres_only
def test_two_workers_log_each_request_once_without_its_query_string(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    log_path = tmp_path / "workers.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--workers", "2", "--port", str(port)],
            cwd=ROOT,
            env=server_env(database_url, port, PAYOUTS_EVENT_BUS="postgres"),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    live = LiveServer(f"http://127.0.0.1:{port}", port, process, log_path)
    try:
        wait_ready(live, timeout=60)
        for _ in range(6):
            assert httpx.get(f"{live.url}/healthz?token=qs-secret-42").status_code == 200
    finally:
        stop(process)
    text = log_path.read_text()
    assert "qs-secret-42" not in text and "token=" not in text
    request_lines = [line for line in text.splitlines() if "GET /healthz" in line]
    # wait_until_ready's polls plus our six, each logged once, by our request log only.
    assert len(request_lines) >= 6
    assert all(json.loads(line)["logger"] != "uvicorn.access" for line in request_lines)
    assert len(request_lines) == len({json.loads(line).get("request_id") for line in request_lines})
