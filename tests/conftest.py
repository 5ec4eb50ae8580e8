"""Test fixtures: one fresh database per test run (SQLite file or a new PostgreSQL database,
chosen by ``PAYOUTS_TEST_BACKEND``), migrated with Alembic; a real uvicorn server on a free port.

Tests isolate themselves by creating their own organizations, so nothing is truncated.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from api import migrations
from services.infra.database import Database
from services.organizations import api_keys
from tests.support.live_server import LiveServer, start_server
from tests.support.orgs import TestOrg
from tests.support.sensitive import remember_sensitive

BACKEND = os.environ.get("PAYOUTS_TEST_BACKEND", "sqlite")
# In-process apps on PostgreSQL (production shape) need a client-session secret of their own.
os.environ.setdefault(
    "PAYOUTS_CLIENT_SESSION_SECRET", "test-client-session-secret-0123456789abcdef"
)
PG_ADMIN_URL = os.environ.get("PAYOUTS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def pytest_report_header() -> str:
    return f"payouts test backend: {BACKEND}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("run_last") is not None)  # stable
    if BACKEND == "postgres":
        return
    # PostgreSQL-only tests are not collected on SQLite (they run in the postgres pass).
    kept = [item for item in items if item.get_closest_marker("postgres_only") is None]
    deselected = [item for item in items if item.get_closest_marker("postgres_only") is not None]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@contextmanager
def migrated_database(directory: Path) -> Iterator[str]:
    """A new, migrated database for the chosen backend, dropped afterwards (PostgreSQL)."""
    if BACKEND == "sqlite":
        url = f"sqlite+aiosqlite:///{directory / f'payouts-{uuid.uuid4().hex[:8]}.db'}"
        migrations.upgrade(url)
        yield url
        return
    from tests.support.postgres import create_database, drop_database

    name = f"payouts_test_{uuid.uuid4().hex[:12]}"
    url = create_database(PG_ADMIN_URL, name)
    try:
        migrations.upgrade(url)
        yield url
    finally:
        drop_database(PG_ADMIN_URL, name)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with migrated_database(tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture
def private_database_url(tmp_path: Path) -> Iterator[str]:
    """A database of this test's own, unseen by the session server's background workers."""
    with migrated_database(tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One uvicorn process for the whole run (0.2 s sandbox delay)."""
    log_dir: Path = tmp_path_factory.mktemp("server")
    with start_server(database_url, log_dir / "server.log") as live:
        yield live


async def make_org(db: Database, name: str = "Acme") -> TestOrg:
    async with db.transaction() as session:
        created = await api_keys.create_organization(session, name=name)
    remember_sensitive(created.test_key, created.live_key)  # never to appear in server logs
    return TestOrg(created.organization.id, name, created.test_key, created.live_key)


@pytest.fixture
async def org(db: Database) -> TestOrg:
    return await make_org(db, f"Acme {uuid.uuid4().hex[:6]}")
