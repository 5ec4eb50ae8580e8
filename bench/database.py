"""A throwaway PostgreSQL database per bench run: created, migrated, dropped."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

ADMIN_URL = os.environ.get("PAYOUTS_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass(frozen=True)
class BenchDatabase:
    name: str
    dsn: str  # for asyncpg
    url: str  # for SQLAlchemy (the app's PAYOUTS_DATABASE_URL)


@asynccontextmanager
async def throwaway_database(admin_url: str = ADMIN_URL) -> AsyncIterator[BenchDatabase]:
    name = f"bench_{secrets.token_hex(4)}"
    await _admin(admin_url, f'CREATE DATABASE "{name}"')
    dsn = f"{admin_url.rsplit('/', 1)[0]}/{name}"
    try:
        yield BenchDatabase(name, dsn, dsn.replace("postgresql://", "postgresql+asyncpg://", 1))
    finally:
        await _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(admin_url: str, sql: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()
