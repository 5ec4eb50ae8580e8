"""The authenticator's key lookups and key cache: a revocation reaches every process at once,
dead connections are retried."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest
import sqlalchemy as sa
from sqlmodel import col

from api.auth import Authenticator, KeyCache
from api.bus import asyncpg_dsn
from models import ApiKey
from models.base import utcnow
from services.infra.database import Database
from services.infra.event_bus import PostgresBus
from services.organizations import api_keys
from services.organizations.api_keys import Viewer
from tests.conftest import make_org


async def test_revoked_key_is_refused_on_the_next_lookup(private_database_url: str) -> None:
    db = Database(private_database_url)
    authenticate = Authenticator(db)
    try:
        org = await make_org(db)
        viewer = await authenticate(org.test_key)
        assert viewer is not None and viewer.organization_id == org.id
        async with db.transaction() as session:
            await api_keys.revoke_key(session, org.test_key)
        assert await authenticate(org.test_key) is None
        assert await authenticate(org.live_key) is not None
    finally:
        await authenticate.dispose()
        await db.dispose()


@pytest.mark.postgres_only
async def test_lookup_survives_connections_killed_by_the_server(private_database_url: str) -> None:
    db = Database(private_database_url)
    authenticate = Authenticator(db)
    try:
        org = await make_org(db)
        for _ in range(5):
            await asyncio.gather(*(authenticate(org.test_key) for _ in range(4)))
            async with db.transaction() as session:
                killed = (
                    await session.execute(
                        sa.text(
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        )
                    )
                ).scalar_one()
            assert killed >= 1
            viewer = await authenticate(org.test_key)
            assert viewer is not None and viewer.organization_id == org.id
    finally:
        await authenticate.dispose()
        await db.dispose()


@asynccontextmanager
async def process_like(url: str, *, cache_seconds: float) -> AsyncIterator[Authenticator]:
    """What one server process has: a database, its PostgreSQL event bus and an authenticator
    caching keys while the bus listens."""
    db = Database(url)
    bus = PostgresBus(asyncpg_dsn(url), reconnect_delay=(0.1, 0.5))
    db.bus = bus
    authenticate = Authenticator(db, revocations=bus, cache_seconds=cache_seconds)
    await bus.start()
    try:
        yield authenticate
    finally:
        await bus.stop()
        await authenticate.dispose()
        await db.dispose()


async def revoke_without_announcing(db: Database, key: str) -> None:
    """As an operator's UPDATE would: the row changes and no process hears of it."""
    async with db.transaction() as session:
        await session.execute(
            sa.update(ApiKey)
            .where(col(ApiKey.lookup_prefix) == api_keys.lookup_prefix(key))
            .values(revoked_at=utcnow())
        )


async def refused_within(authenticate: Authenticator, key: str, seconds: float) -> float:
    started = time.monotonic()
    while await authenticate(key) is not None:
        assert time.monotonic() - started < seconds, "the revoked key is still accepted"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


@pytest.mark.postgres_only
async def test_a_revocation_empties_the_key_cache_of_every_process(
    private_database_url: str,
) -> None:
    db = Database(private_database_url)
    try:
        org = await make_org(db)
        async with (
            process_like(private_database_url, cache_seconds=60) as first,
            process_like(private_database_url, cache_seconds=60) as second,
        ):
            for authenticate in (first, second):
                assert await authenticate(org.test_key) is not None
                assert len(authenticate.cache) == 1
            async with db.transaction() as session:
                await api_keys.revoke_key(session, org.test_key)
            # Only the announcement can do this: the cached entries live for 60 s.
            for authenticate in (first, second):
                await refused_within(authenticate, org.test_key, 1.0)
            assert await first(org.live_key) is not None  # other keys still work
    finally:
        await db.dispose()


@pytest.mark.postgres_only
async def test_cached_keys_expire_after_the_ttl(private_database_url: str) -> None:
    db = Database(private_database_url)
    try:
        org = await make_org(db)
        async with process_like(private_database_url, cache_seconds=0.5) as authenticate:
            assert await authenticate(org.test_key) is not None
            await revoke_without_announcing(db, org.test_key)
            assert await authenticate(org.test_key) is not None  # served from the cache
            waited = await refused_within(authenticate, org.test_key, 2.0)
            assert waited > 0.2
    finally:
        await db.dispose()


@pytest.mark.postgres_only
async def test_no_cache_while_the_revocation_listener_is_away(private_database_url: str) -> None:
    db = Database(private_database_url)
    try:
        org = await make_org(db)
        async with process_like(private_database_url, cache_seconds=60) as authenticate:
            feed = authenticate._revocations
            assert isinstance(feed, PostgresBus)
            assert await authenticate(org.test_key) is not None
            admin = await asyncpg.connect(asyncpg_dsn(private_database_url))
            try:
                assert await admin.fetchval("SELECT pg_terminate_backend($1)", feed.listener_pid)
            finally:
                await admin.close()
            while feed.listening:
                await asyncio.sleep(0.01)
            assert len(authenticate.cache) == 0  # whatever it held may be stale by now
            await revoke_without_announcing(db, org.test_key)
            assert await authenticate(org.test_key) is None  # looked up, not cached
    finally:
        await db.dispose()


async def test_key_cache_ignores_lookups_older_than_a_revocation() -> None:
    now = [0.0]
    cache = KeyCache(ttl=5, maxsize=2, clock=lambda: now[0])
    viewer = Viewer("org_1", "Acme", "US", "usd", False, "key_1")
    generation = cache.generation
    cache.forget_all("key_1")  # a revocation arrives while a lookup is in flight
    cache.put("a", viewer, generation)
    assert cache.get("a") is None
    cache.put("a", viewer, cache.generation)
    assert cache.get("a") == viewer
    now[0] = 5.0
    assert cache.get("a") is None  # expired
    for digest in ("b", "c", "d"):
        cache.put(digest, viewer, cache.generation)
    assert len(cache) == 2 and cache.get("b") is None and cache.get("d") == viewer


async def test_no_cache_without_a_revocation_feed(db: Database) -> None:
    org = await make_org(db)
    authenticate = Authenticator(db, cache_seconds=60)  # nothing would announce a revocation
    try:
        assert await authenticate(org.test_key) is not None
        assert len(authenticate.cache) == 0
    finally:
        await authenticate.dispose()
