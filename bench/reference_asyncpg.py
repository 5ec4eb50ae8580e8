"""Case 3's reference: ``requestPayout``'s transaction written directly with asyncpg — key
lookup, balance row locked ``FOR UPDATE``, two ledger entries, the payout row and its event,
one commit — behind a bare Starlette route taking the same GraphQL request body.

Self-contained (its own ``bench_raw_*`` tables, created and seeded by ``seed``); the case
compares it with the real mutation on a hot organization and on 100 organizations.
Run: ``BENCH_DATABASE_DSN=postgresql://... uvicorn bench.reference_asyncpg:app``.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SCHEMA = """
CREATE TABLE IF NOT EXISTS bench_raw_keys (key_hash text PRIMARY KEY, organization_id text NOT NULL);
CREATE TABLE IF NOT EXISTS bench_raw_balances (
    organization_id text PRIMARY KEY, available bigint NOT NULL CHECK (available >= 0),
    pending bigint NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS bench_raw_ledger (
    id text PRIMARY KEY, organization_id text NOT NULL, amount bigint NOT NULL, kind text NOT NULL,
    payout_id text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS bench_raw_payouts (
    id text PRIMARY KEY, organization_id text NOT NULL, status text NOT NULL, amount bigint NOT NULL,
    fee bigint NOT NULL, currency text NOT NULL, description text,
    created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS bench_raw_events (
    id text PRIMARY KEY, organization_id text NOT NULL, type text NOT NULL, object_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now());
"""
FEE = 25


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


async def request_payout(connection: asyncpg.Connection, organization_id: str, amount: int) -> dict:
    async with connection.transaction():
        available = await connection.fetchval(
            "SELECT available FROM bench_raw_balances WHERE organization_id = $1 FOR UPDATE",
            organization_id,
        )
        if available is None or available < amount:
            return {
                "payout": None,
                "userErrors": [
                    {
                        "code": "INSUFFICIENT_FUNDS",
                        "message": "not enough available balance",
                        "field": ["input", "amount"],
                    }
                ],
            }
        payout_id = _new_id("po")
        await connection.execute(
            "UPDATE bench_raw_balances SET available = available - $2, pending = pending + $2 "
            "WHERE organization_id = $1",
            organization_id,
            amount,
        )
        await connection.executemany(
            "INSERT INTO bench_raw_ledger (id, organization_id, amount, kind, payout_id) "
            "VALUES ($1, $2, $3, $4, $5)",
            [
                (_new_id("btx"), organization_id, -amount, "payout", payout_id),
                (_new_id("btx"), organization_id, FEE, "payout_fee", payout_id),
            ],
        )
        row = await connection.fetchrow(
            "INSERT INTO bench_raw_payouts (id, organization_id, status, amount, fee, currency) "
            "VALUES ($1, $2, 'pending', $3, $4, 'usd') RETURNING id, status, amount, created_at",
            payout_id,
            organization_id,
            amount,
            FEE,
        )
        await connection.execute(
            "INSERT INTO bench_raw_events (id, organization_id, type, object_id) "
            "VALUES ($1, $2, 'payout.created', $3)",
            _new_id("evt"),
            organization_id,
            payout_id,
        )
    payout = {
        "id": row["id"],
        "status": "PENDING",
        "amount": row["amount"],
        "createdAt": row["created_at"].isoformat(),
    }
    return {"payout": payout, "userErrors": []}


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(
        os.environ["BENCH_DATABASE_DSN"], min_size=10, max_size=20
    )
    try:
        yield
    finally:
        await app.state.pool.close()


async def graphql(request: Request) -> Response:
    body = orjson.loads(await request.body())
    amount = int(body["variables"]["input"]["amount"])
    key_hash = hashlib.sha256(request.headers.get("x-api-key", "").encode()).hexdigest()
    async with request.app.state.pool.acquire() as connection:
        organization_id = await connection.fetchval(
            "SELECT organization_id FROM bench_raw_keys WHERE key_hash = $1", key_hash
        )
        if organization_id is None:
            return JSONResponse({"data": None, "errors": [{"message": "UNAUTHENTICATED"}]})
        result = await request_payout(connection, organization_id, amount)
    return Response(
        orjson.dumps({"data": {"requestPayout": result}}), media_type="application/json"
    )


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[Route("/graphql", graphql, methods=["POST"]), Route("/healthz", healthz)],
    lifespan=lifespan,
)


async def seed(dsn: str, keys: dict[str, str], *, available: int) -> None:
    """Create the tables; one balance of ``available`` cents per organization of ``keys``
    (plaintext key → organization id)."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(SCHEMA)
        await connection.executemany(
            "INSERT INTO bench_raw_keys VALUES ($1, $2) ON CONFLICT DO NOTHING",
            [(hashlib.sha256(k.encode()).hexdigest(), org) for k, org in keys.items()],
        )
        await connection.executemany(
            "INSERT INTO bench_raw_balances (organization_id, available) VALUES ($1, $2) "
            "ON CONFLICT (organization_id) DO UPDATE SET available = EXCLUDED.available",
            [(org, available) for org in set(keys.values())],
        )
    finally:
        await connection.close()


async def overdrafts(dsn: str) -> int:
    """Balances whose ledger says they went below zero (must be 0)."""
    connection = await asyncpg.connect(dsn)
    try:
        return int(
            await connection.fetchval("SELECT count(*) FROM bench_raw_balances WHERE available < 0")
        )
    finally:
        await connection.close()
