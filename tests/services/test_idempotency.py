"""Idempotency records: replay, mismatch, in-progress, and the 24 h retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import col

from models import IdempotencyRecord
from models.base import new_id, utcnow
from services import idempotency
from services.errors import DomainError
from services.infra.database import Database
from tests.conftest import make_org


async def claimed(db: Database) -> idempotency.Scope:
    org = await make_org(db)
    scope = idempotency.Scope(org.id, False, new_id("key"))
    assert await idempotency.claim(db, scope, "m", "hash-a") is None
    async with db.transaction() as session:
        await idempotency.complete(session, scope, '{"ok":1}')
    return scope


async def test_completed_key_replays_and_refuses_other_input(db: Database) -> None:
    scope = await claimed(db)
    assert await idempotency.claim(db, scope, "m", "hash-a") == '{"ok":1}'
    with pytest.raises(DomainError) as mismatch:
        await idempotency.claim(db, scope, "m", "hash-b")
    assert mismatch.value.code == "IDEMPOTENCY_KEY_MISMATCH"


async def test_running_key_is_in_progress(db: Database) -> None:
    org = await make_org(db)
    scope = idempotency.Scope(org.id, False, new_id("key"))
    assert await idempotency.claim(db, scope, "m", "h") is None
    with pytest.raises(DomainError) as running:
        await idempotency.claim(db, scope, "m", "h")
    assert running.value.code == "IDEMPOTENCY_IN_PROGRESS"


async def age(db: Database, scope: idempotency.Scope, by: timedelta) -> None:
    async with db.transaction() as session:
        await session.execute(
            sa.update(IdempotencyRecord)
            .where(col(IdempotencyRecord.key) == scope.key)
            .values(created_at=utcnow() - by)
        )


async def test_key_is_kept_within_24_hours(db: Database) -> None:
    scope = await claimed(db)
    await age(db, scope, timedelta(hours=23, minutes=59))
    assert await idempotency.claim(db, scope, "m", "hash-a") == '{"ok":1}'
    with pytest.raises(DomainError):
        await idempotency.claim(db, scope, "m", "hash-b")


async def test_key_expires_after_24_hours(db: Database) -> None:
    scope = await claimed(db)
    await age(db, scope, timedelta(hours=24, minutes=1))
    # An expired key is a new key: a different request may use it and runs afresh.
    assert await idempotency.claim(db, scope, "m", "hash-b") is None


async def test_prune_removes_only_expired_records(db: Database) -> None:
    old, fresh = await claimed(db), await claimed(db)
    await age(db, old, timedelta(hours=25))
    async with db.transaction() as session:
        assert await idempotency.prune(session) >= 1
    async with db.read() as session:
        keys = set(
            (
                await session.execute(
                    sa.select(col(IdempotencyRecord.key)).where(
                        col(IdempotencyRecord.key).in_([old.key, fresh.key])
                    )
                )
            ).scalars()
        )
    assert keys == {fresh.key}
