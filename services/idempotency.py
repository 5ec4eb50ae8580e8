"""Idempotency keys (Stripe semantics): same key + same request → the stored response; a
different request → mismatch; while the first is running → in progress."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models import IdempotencyRecord, IdempotencyStatus
from models.base import utcnow
from services.errors import DomainError, ErrorCode
from services.infra.database import Database
from services.sensitive import keyed_fingerprint

RETENTION = timedelta(hours=24)
# A claim older than this belongs to a request that died: its transaction never committed.
# The default of ``claim(stale_after=...)``; the server passes its setting.
STALE_CLAIM = timedelta(seconds=60)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class Scope:
    organization_id: str
    livemode: bool
    key: str


def fingerprint(secret_key: str, mutation: str, request: Any) -> str:
    """Keyed, because requests carry KYC values: a plain hash of a short number is reversible."""
    body = json.dumps([mutation, request], sort_keys=True, separators=(",", ":"), default=str)
    return keyed_fingerprint(secret_key, "idempotency-request:v1", body)


def check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            f"idempotencyKey must be 1 to {MAX_KEY_LENGTH} characters",
            ["input", "idempotencyKey"],
        )


async def claim(
    db: Database,
    scope: Scope,
    mutation: str,
    request_hash: str,
    *,
    stale_after: timedelta = STALE_CLAIM,
) -> str | None:
    """Claim the key for this request. Returns a stored response to replay, or None when the
    caller now owns the key and must run the mutation (also when an earlier claim is older
    than ``stale_after``: its process died). Raises DomainError on conflicts."""
    check_key(scope.key)
    now = utcnow()
    try:
        async with db.transaction() as session:
            existing = await _get(session, scope, lock=True)
            if existing is None or now - existing.created_at > RETENTION:
                if existing is not None:
                    await session.delete(existing)
                    await session.flush()
                session.add(_new_record(scope, mutation, request_hash))
                return None
            return _resolve_existing(existing, mutation, request_hash, now, stale_after)
    except IntegrityError:
        # Another request inserted the same key between our read and our insert.
        async with db.read() as session:
            existing = await _get(session, scope, lock=False)
        if existing is None:  # pragma: no cover - it was just inserted
            raise DomainError(
                ErrorCode.IDEMPOTENCY_IN_PROGRESS, "retry in a moment", None
            ) from None
        return _resolve_existing(
            existing, mutation, request_hash, utcnow(), stale_after, take_over=False
        )


def _resolve_existing(
    record: IdempotencyRecord,
    mutation: str,
    request_hash: str,
    now: Any,
    stale_after: timedelta,
    *,
    take_over: bool = True,
) -> str | None:
    if record.mutation != mutation or record.fingerprint != request_hash:
        raise DomainError(
            ErrorCode.IDEMPOTENCY_KEY_MISMATCH,
            "this idempotency key was used with a different request",
            ["input", "idempotencyKey"],
        )
    if record.status == IdempotencyStatus.COMPLETED:
        return record.response
    if take_over and now - record.locked_at > stale_after:
        record.locked_at = now  # the earlier attempt died before committing anything
        return None
    raise DomainError(
        ErrorCode.IDEMPOTENCY_IN_PROGRESS,
        "a request with this idempotency key is still running; retry shortly",
        ["input", "idempotencyKey"],
    )


async def complete(session: AsyncSession, scope: Scope, response: str) -> None:
    """Store the response in the same transaction as the mutation's effects."""
    await session.execute(
        sa.update(IdempotencyRecord)
        .where(*_scope_clause(scope))
        .values(status=IdempotencyStatus.COMPLETED.value, response=response)
    )


async def release(db: Database, scope: Scope) -> None:
    """Forget a claim whose request changed nothing, so the key can be used again."""
    async with db.transaction() as session:
        await session.execute(
            sa.delete(IdempotencyRecord).where(
                *_scope_clause(scope),
                IdempotencyRecord.status == IdempotencyStatus.IN_PROGRESS.value,  # type: ignore[arg-type]
            )
        )


async def prune(session: AsyncSession) -> int:
    result = await session.execute(
        sa.delete(IdempotencyRecord).where(IdempotencyRecord.created_at < utcnow() - RETENTION)  # type: ignore[arg-type]
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _scope_clause(scope: Scope) -> tuple[Any, ...]:
    return (
        IdempotencyRecord.organization_id == scope.organization_id,
        IdempotencyRecord.livemode == scope.livemode,
        IdempotencyRecord.key == scope.key,
    )


async def _get(session: AsyncSession, scope: Scope, *, lock: bool) -> IdempotencyRecord | None:
    stmt = sa.select(IdempotencyRecord).where(*_scope_clause(scope))
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


def _new_record(scope: Scope, mutation: str, request_hash: str) -> IdempotencyRecord:
    return IdempotencyRecord(
        organization_id=scope.organization_id,
        livemode=scope.livemode,
        key=scope.key,
        mutation=mutation,
        fingerprint=request_hash,
        status=IdempotencyStatus.IN_PROGRESS,
    )
