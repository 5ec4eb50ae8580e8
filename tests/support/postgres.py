"""Create and drop a throw-away PostgreSQL database for one test run."""

from __future__ import annotations

import asyncio

import asyncpg


def create_database(admin_url: str, name: str) -> str:
    asyncio.run(_execute(admin_url, f'CREATE DATABASE "{name}"'))
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


def drop_database(admin_url: str, name: str) -> None:
    asyncio.run(_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _execute(admin_url: str, sql: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()
