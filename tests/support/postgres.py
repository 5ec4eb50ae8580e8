"""Create and drop a throw-away PostgreSQL database for one test run."""

from __future__ import annotations

import asyncio

import asyncpg

from api.bus import asyncpg_dsn


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


async def terminate_other_connections(database_url: str) -> int:
    """Has the server close every other connection to this database (what a restart does to a
    pool's connections); returns how many it closed."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        killed = await connection.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    return int(killed)
