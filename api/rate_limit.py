"""Per-API-key token buckets on query cost, shared by every server process.

The bucket lives in the database (one atomic ``INSERT … ON CONFLICT DO UPDATE … RETURNING``
does the refill arithmetic, so concurrent requests from any process never over-spend) or in
Redis when ``PAYOUTS_REDIS_URL`` is set (one Lua script, atomic on the Redis server). A bucket
holds ``capacity`` tokens and regains ``refill_per_second``; a request takes its query cost.

When the store cannot be reached the request is let through and the failure logged and counted:
an outage of the limiter must not become an outage of payouts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa

from api.lean_pool import LeanPool
from api.settings import Settings
from services.infra.database import Database

log = logging.getLogger("payouts.rate_limit")


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    remaining: float
    capacity: int
    refill_per_second: float
    cost: int

    @property
    def retry_after(self) -> float:
        """Seconds until the bucket holds enough tokens for this cost again."""
        if self.allowed:
            return 0.0
        return max(0.0, self.cost - self.remaining) / self.refill_per_second


class RateLimiter(Protocol):
    capacity: int
    refill_per_second: float

    async def take(self, key: str, cost: int) -> Decision: ...

    async def close(self) -> None: ...


FAILURE_OBSERVERS: list[
    Callable[[str], None]
] = []  # called with the backend name when the store fails


class _Limiter:
    backend = "none"

    def __init__(self, capacity: int, refill_per_second: float) -> None:
        if capacity <= 0 or refill_per_second <= 0:
            raise ValueError("rate limit capacity and refill must be positive")
        self.capacity = capacity
        self.refill_per_second = refill_per_second

    async def take(self, key: str, cost: int) -> Decision:
        try:
            allowed, remaining = await self._take(key, cost)
        except Exception:
            log.warning("rate limit store unavailable; letting the request through", exc_info=True)
            for observe in FAILURE_OBSERVERS:
                observe(self.backend)
            return Decision(True, float(self.capacity), self.capacity, self.refill_per_second, cost)
        return Decision(allowed, remaining, self.capacity, self.refill_per_second, cost)

    async def _take(self, key: str, cost: int) -> tuple[bool, float]:
        raise NotImplementedError

    async def close(self) -> None:
        return None


# Both dialects: SET expressions see the row as it was; MAX/MIN (SQLite) vs GREATEST/LEAST.
_UPSERT = """
INSERT INTO rate_limit_buckets (bucket_key, tokens, updated_at, granted)
VALUES (:key, CAST(:capacity AS DOUBLE PRECISION) - :cost, :now, TRUE)
ON CONFLICT (bucket_key) DO UPDATE SET
  tokens = CASE WHEN {refilled} >= :cost THEN {refilled} - :cost ELSE {refilled} END,
  granted = ({refilled} >= :cost),
  updated_at = {greatest}(rate_limit_buckets.updated_at, :now)
RETURNING tokens, granted
"""
_REFILLED = (
    "{least}(CAST(:capacity AS DOUBLE PRECISION), rate_limit_buckets.tokens + "
    "{greatest}(0.0, :now - rate_limit_buckets.updated_at) * :rate)"
)


def _upsert_sql(dialect: str) -> str:
    least, greatest = ("MIN", "MAX") if dialect == "sqlite" else ("LEAST", "GREATEST")
    refilled = _REFILLED.format(least=least, greatest=greatest)
    return _UPSERT.format(refilled=refilled, greatest=greatest)


def _sqlite_statement() -> sa.TextClause:
    return sa.text(_upsert_sql("sqlite")).bindparams(
        sa.bindparam("key", type_=sa.String()),
        sa.bindparam("capacity", type_=sa.Float()),
        sa.bindparam("cost", type_=sa.Float()),
        sa.bindparam("now", type_=sa.Float()),
        sa.bindparam("rate", type_=sa.Float()),
    )


_PG_PARAMETERS = ("key", "capacity", "cost", "now", "rate")


def _postgres_statement() -> str:
    """asyncpg's numbered parameters, in ``_PG_PARAMETERS`` order."""
    sql = _upsert_sql("postgresql")
    for number, name in enumerate(_PG_PARAMETERS, start=1):
        cast = "" if name == "key" else "::double precision"
        sql = sql.replace(f":{name}", f"${number}{cast}")
    return sql


class SqlRateLimiter(_Limiter):
    """Buckets in the ``rate_limit_buckets`` table (PostgreSQL: shared by every process).

    PostgreSQL: the upsert is one prepared statement in autocommit on the lean asyncpg pool
    (``api/lean_pool.py``: no session, no pre-ping, no commit fsync), shared with the key
    lookup when given. SQLite: through the one writer connection, in ``db.transaction()``.
    """

    def __init__(
        self,
        db: Database,
        capacity: int,
        refill_per_second: float,
        clock: Callable[[], float] = time.time,
        pool: LeanPool | None = None,
    ) -> None:
        super().__init__(capacity, refill_per_second)
        self.db = db
        self.clock = clock
        self.backend = db.dialect
        self._owns_pool = pool is None and not db.is_sqlite
        self._pool = LeanPool(db) if self._owns_pool else pool
        self._sqlite = _sqlite_statement() if db.is_sqlite else None
        self._postgres = _postgres_statement()

    async def _take(self, key: str, cost: int) -> tuple[bool, float]:
        now = self.clock()
        if self._sqlite is not None:
            params = {
                "key": key,
                "capacity": float(self.capacity),
                "cost": float(cost),
                "now": now,
                "rate": self.refill_per_second,
            }
            async with self.db.transaction() as session:
                row = (await session.execute(self._sqlite, params)).one()
            return bool(row.granted), float(row.tokens)
        assert self._pool is not None
        found = await self._pool.fetchrow(
            self._postgres, key, float(self.capacity), float(cost), now, self.refill_per_second
        )
        assert found is not None  # RETURNING always gives the row
        return bool(found["granted"]), float(found["tokens"])

    async def close(self) -> None:
        if self._owns_pool and self._pool is not None:
            await self._pool.close()


# KEYS[1] bucket; ARGV capacity, refill per second, cost. Redis' own clock: one for all hosts.
_LUA = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local granted = 0
if tokens >= cost then
  tokens = tokens - cost
  granted = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(math.max(ts, now)))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 60000)
return {granted, tostring(tokens)}
"""


class RedisRateLimiter(_Limiter):
    backend = "redis"

    def __init__(self, url: str, capacity: int, refill_per_second: float, prefix: str) -> None:
        super().__init__(capacity, refill_per_second)
        from redis.asyncio import Redis

        self.redis = Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self.script = self.redis.register_script(_LUA)
        self.prefix = prefix

    async def _take(self, key: str, cost: int) -> tuple[bool, float]:
        granted, tokens = await self.script(
            keys=[f"{self.prefix}ratelimit:{key}"],
            args=[self.capacity, self.refill_per_second, cost],
        )
        return int(granted) == 1, float(tokens)

    async def close(self) -> None:
        await self.redis.aclose()


def build_rate_limiter(
    settings: Settings, db: Database, pool: LeanPool | None = None
) -> RateLimiter | None:
    if not settings.rate_limit_enabled:
        return None
    capacity, refill = settings.rate_limit_bucket_size, settings.rate_limit_refill_per_second
    if settings.redis_url:
        return RedisRateLimiter(settings.redis_url, capacity, refill, settings.redis_key_prefix)
    return SqlRateLimiter(db, capacity, refill, pool=pool)
