"""Token buckets on the test backend's database (SQLite or PostgreSQL) and on Redis."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from redis.asyncio import Redis

from api.rate_limit import RedisRateLimiter, SqlRateLimiter
from services.infra.database import Database
from tests.support.live_server import free_port

REDIS_URL = os.environ.get("PAYOUTS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def unique_key() -> str:
    return f"key:test_{uuid.uuid4().hex}"


@pytest.fixture
async def limiters(db: Database) -> AsyncIterator[list[SqlRateLimiter]]:
    """Limiters a test builds; their asyncpg pools (PostgreSQL) are closed after it."""
    built: list[SqlRateLimiter] = []
    yield built
    for limiter in built:
        await limiter.close()


def sql_limiter(
    db: Database, built: list[SqlRateLimiter], capacity: int, refill: float, clock: Clock
) -> SqlRateLimiter:
    limiter = SqlRateLimiter(db, capacity=capacity, refill_per_second=refill, clock=clock)
    built.append(limiter)
    return limiter


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    prefix = f"payouts-test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def test_sql_bucket_grants_until_empty_then_refuses(
    db: Database, limiters: list[SqlRateLimiter]
) -> None:
    limiter = sql_limiter(db, limiters, 10, 2.0, Clock())
    key = unique_key()
    first = await limiter.take(key, 6)
    assert first.allowed and first.remaining == 4
    refused = await limiter.take(key, 6)
    assert not refused.allowed
    assert refused.remaining == 4  # a refusal takes nothing
    assert refused.retry_after == pytest.approx(1.0)  # 2 tokens missing at 2/s
    assert (await limiter.take(key, 4)).allowed


async def test_sql_bucket_refills_with_time_up_to_capacity(
    db: Database, limiters: list[SqlRateLimiter]
) -> None:
    clock = Clock()
    limiter = sql_limiter(db, limiters, 10, 2.0, clock)
    key = unique_key()
    assert (await limiter.take(key, 10)).allowed
    assert not (await limiter.take(key, 3)).allowed
    clock.now += 1.5  # +3 tokens
    granted = await limiter.take(key, 3)
    assert granted.allowed and granted.remaining == pytest.approx(0)
    clock.now += 3600  # never more than the capacity
    assert (await limiter.take(key, 1)).remaining == pytest.approx(9)


async def test_sql_bucket_clock_going_backwards_adds_nothing(
    db: Database, limiters: list[SqlRateLimiter]
) -> None:
    clock = Clock()
    limiter = sql_limiter(db, limiters, 10, 2.0, clock)
    key = unique_key()
    await limiter.take(key, 10)
    clock.now -= 100  # another process with a slower clock
    assert not (await limiter.take(key, 1)).allowed


async def test_sql_buckets_are_per_key(db: Database, limiters: list[SqlRateLimiter]) -> None:
    limiter = sql_limiter(db, limiters, 5, 1.0, Clock())
    a, b = unique_key(), unique_key()
    assert (await limiter.take(a, 5)).allowed
    assert not (await limiter.take(a, 1)).allowed
    assert (await limiter.take(b, 5)).allowed


async def test_sql_bucket_never_overspends_under_concurrency(
    db: Database, limiters: list[SqlRateLimiter]
) -> None:
    limiter = sql_limiter(db, limiters, 10, 1.0, Clock())
    key = unique_key()
    decisions = await asyncio.gather(*(limiter.take(key, 1) for _ in range(25)))
    assert sum(d.allowed for d in decisions) == 10


async def test_sql_buckets_are_shared_by_limiters_with_their_own_pools(
    db: Database, limiters: list[SqlRateLimiter]
) -> None:
    """Two limiters stand for two server processes: one bucket, never over-spent."""
    clock = Clock()
    first = sql_limiter(db, limiters, 10, 1.0, clock)
    second = sql_limiter(db, limiters, 10, 1.0, clock)
    key = unique_key()
    decisions = await asyncio.gather(
        *(limiter.take(key, 1) for _ in range(15) for limiter in (first, second))
    )
    assert sum(d.allowed for d in decisions) == 10


@pytest.mark.postgres_only
async def test_sql_bucket_survives_connections_killed_by_the_server(
    private_database_url: str,
) -> None:
    db = Database(private_database_url)  # its own: killing connections spares other tests
    limiter = SqlRateLimiter(db, capacity=10, refill_per_second=0.001, clock=Clock())
    key = unique_key()
    try:
        for _ in range(3):
            assert (await limiter.take(key, 1)).allowed
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
        decision = await limiter.take(key, 1)
        assert decision.allowed and decision.remaining == pytest.approx(6, abs=0.01)
    finally:
        await limiter.close()
        await db.dispose()


async def test_redis_bucket_grants_until_empty_then_refuses(redis_prefix: str) -> None:
    limiter = RedisRateLimiter(REDIS_URL, 10, 0.001, redis_prefix)
    try:
        key = unique_key()
        assert (await limiter.take(key, 6)).allowed
        refused = await limiter.take(key, 6)
        assert not refused.allowed
        assert refused.remaining == pytest.approx(4, abs=0.01)
        assert refused.retry_after > 1000  # 2 tokens at 0.001/s
        assert (await limiter.take(unique_key(), 10)).allowed  # another key, its own bucket
    finally:
        await limiter.close()


async def test_redis_bucket_never_overspends_under_concurrency(redis_prefix: str) -> None:
    limiters = [RedisRateLimiter(REDIS_URL, 10, 0.001, redis_prefix) for _ in range(3)]
    try:
        key = unique_key()
        decisions = await asyncio.gather(
            *(limiters[i % 3].take(key, 1) for i in range(25))  # three "processes"
        )
        assert sum(d.allowed for d in decisions) == 10
    finally:
        for limiter in limiters:
            await limiter.close()


async def test_redis_bucket_refills(redis_prefix: str) -> None:
    limiter = RedisRateLimiter(REDIS_URL, 10, 100.0, redis_prefix)
    try:
        key = unique_key()
        assert (await limiter.take(key, 10)).allowed
        await asyncio.sleep(0.1)  # +10 tokens at 100/s (Redis' clock)
        assert (await limiter.take(key, 5)).allowed
    finally:
        await limiter.close()


async def test_unreachable_redis_lets_requests_through() -> None:
    limiter = RedisRateLimiter(f"redis://127.0.0.1:{free_port()}/0", 10, 1.0, "x:")
    try:
        decision = await limiter.take(unique_key(), 5)
        assert decision.allowed
    finally:
        await limiter.close()
