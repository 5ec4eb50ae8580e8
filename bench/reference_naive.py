"""Case 2's reference: the straightforward strawberry + SQLModel ``payouts(first: 50)`` —
ORM rows, a session per request, no parser/validation caches, the default JSON encoder.

Self-contained (its own ``bench_naive_*`` tables, seeded by ``seed``) so it depends on none
of our code; the case seeds the same 10,000 payouts here and in the real app.
Run: ``BENCH_DATABASE_DSN=postgresql://... uvicorn bench.reference_naive:app``.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from typing import Protocol

import strawberry
from sqlalchemy import BigInteger, Column, DateTime, insert, text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from strawberry.asgi import GraphQL


class SeedRow(Protocol):
    """One payout to seed (``bench.seed.PayoutRowData``: the same rows as the product's)."""

    id: str
    status: str
    amount: int
    fee: int
    description: str
    created_at: datetime
    paid_at: datetime | None


class NaiveModel(SQLModel, registry=registry()):
    """The baseline's own metadata: its tables never join the product's ``SQLModel.metadata``
    (which migrations, checks and tests walk)."""


class NaiveKey(NaiveModel, table=True):
    __tablename__ = "bench_naive_keys"
    key_hash: str = Field(primary_key=True)
    organization_id: str = Field(index=True)
    livemode: bool = False


class NaivePayout(NaiveModel, table=True):
    __tablename__ = "bench_naive_payouts"
    id: str = Field(primary_key=True)
    organization_id: str = Field(index=True)
    livemode: bool = False
    status: str
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    fee: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str
    description: str | None = None
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), index=True))
    paid_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


@strawberry.type
class Payout:
    id: strawberry.ID
    status: str
    amount: int
    fee: int
    net_amount: int
    currency: str
    description: str | None
    created_at: datetime
    paid_at: datetime | None
    livemode: bool


@strawberry.type
class PayoutEdge:
    cursor: str
    node: Payout


@strawberry.type
class PayoutConnection:
    edges: list[PayoutEdge]


def _payout(row: NaivePayout) -> Payout:
    return Payout(
        id=strawberry.ID(row.id),
        status=row.status.upper(),
        amount=row.amount,
        fee=row.fee,
        net_amount=row.amount - row.fee,
        currency=row.currency,
        description=row.description,
        created_at=row.created_at,
        paid_at=row.paid_at,
        livemode=row.livemode,
    )


def _engine_url() -> str:
    return os.environ["BENCH_DATABASE_DSN"].replace("postgresql://", "postgresql+asyncpg://", 1)


engine = (
    create_async_engine(_engine_url(), pool_size=10, max_overflow=10)
    if ("BENCH_DATABASE_DSN" in os.environ)
    else None
)
Session = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@strawberry.type
class Query:
    @strawberry.field
    async def payouts(self, info: strawberry.Info, first: int = 50) -> PayoutConnection:
        request: Request = info.context["request"]
        key = request.headers.get("x-api-key", "")
        async with Session() as session:
            found = await session.get(NaiveKey, hashlib.sha256(key.encode()).hexdigest())
            if found is None:
                raise PermissionError("UNAUTHENTICATED")
            rows = (
                await session.exec(
                    select(NaivePayout)
                    .where(NaivePayout.organization_id == found.organization_id)
                    .where(NaivePayout.livemode == found.livemode)
                    .order_by(NaivePayout.created_at.desc())  # type: ignore[attr-defined]
                    .limit(min(first, 100))
                )
            ).all()
        return PayoutConnection(edges=[PayoutEdge(cursor=r.id, node=_payout(r)) for r in rows])


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/graphql", GraphQL(strawberry.Schema(query=Query), graphql_ide=None)),
        Route("/healthz", healthz, methods=["GET"]),
    ]
)


async def seed(dsn: str, *, key: str, organization_id: str, rows: list[SeedRow]) -> None:
    """Create the tables and ``rows`` as test-mode payouts of ``key``'s organization."""
    seed_engine = create_async_engine(dsn.replace("postgresql://", "postgresql+asyncpg://", 1))
    try:
        async with seed_engine.begin() as connection:
            await connection.run_sync(NaiveModel.metadata.create_all)
            await connection.execute(
                insert(NaiveKey),
                [{"key_hash": hashlib.sha256(key.encode()).hexdigest(),
                  "organization_id": organization_id, "livemode": False}],
            )  # fmt: skip
            await connection.execute(
                insert(NaivePayout),
                [
                    {
                        "id": row.id, "organization_id": organization_id, "livemode": False,
                        "status": row.status.lower(), "amount": row.amount, "fee": row.fee,
                        "currency": "usd", "description": row.description,
                        "created_at": row.created_at, "paid_at": row.paid_at,
                    }
                    for row in rows
                ],
            )  # fmt: skip
            await connection.execute(text("ANALYZE bench_naive_payouts"))
    finally:
        await seed_engine.dispose()
