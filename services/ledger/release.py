"""The release job: pending funds become available at their release time.

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so every server process can run
the job at once without releasing anything twice; on SQLite the single writer serializes them.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.base import utcnow
from models.ledger import PendingRelease
from services.infra.database import Database
from services.ledger import service as ledger
from services.scope import locked


async def release_pass(db: Database, *, limit: int = 100) -> int:
    async with db.transaction() as session:
        return await release_due(session, limit=limit)


async def release_due(session: AsyncSession, *, limit: int = 100) -> int:
    """Release due pending funds. Rows are claimed with ``SKIP LOCKED`` on PostgreSQL, so
    several processes can run this at once without releasing anything twice."""
    stmt = (
        sa.select(PendingRelease)
        .where(
            col(PendingRelease.released_at).is_(None),
            col(PendingRelease.release_at) <= utcnow(),
        )
        .order_by(col(PendingRelease.balance_id), col(PendingRelease.release_at))
        .limit(limit)
    )
    due = list((await session.execute(locked(stmt, skip_locked=True))).scalars())
    for release in due:
        balance = await ledger.lock_balance_by_id(session, release.balance_id)
        await ledger.release(session, balance, release)
    return len(due)
