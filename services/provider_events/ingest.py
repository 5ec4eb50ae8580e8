"""Provider webhook ingestion: store each event once, apply it in the same transaction.

Which service applies each object kind is one table, ``services.provider_events.handlers``
(``account`` → payout accounts, ``transfer`` → payouts). A handler returns False when the
object is not known yet; the event then stays pending and is applied later (when the object is
created, through ``apply_pending_for``, or by the periodic sweep) — never dropped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import ProviderEvent, RejectedProviderEvent
from models.base import new_id, utcnow
from providers.base import WebhookEvent

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, str, WebhookEvent], Awaitable[bool]]
# Observers of receipt-to-applied lag (metrics); called after the applying transaction flushes.
LAG_OBSERVERS: list[Callable[[float], None]] = []


def _handlers() -> Mapping[str, Handler]:
    # Imported when first needed: the handlers' own modules import this one (a new payout
    # account applies the events that waited for it).
    from services.provider_events.handlers import HANDLERS

    return HANDLERS


@dataclass(frozen=True, slots=True)
class IngestResult:
    duplicate: bool
    applied: bool


async def ingest(session: AsyncSession, provider: str, event: WebhookEvent) -> IngestResult:
    """Store ``event`` unless already stored, then apply it. On SQLite a concurrent duplicate
    insert raises IntegrityError at flush: the caller answers 2xx and changes nothing."""
    if session.get_bind().dialect.name == "postgresql":
        return await _ingest_with_statements(session, provider, event)
    existing = (
        await session.execute(
            sa.select(col(ProviderEvent.id)).where(
                col(ProviderEvent.provider) == provider, col(ProviderEvent.event_id) == event.id
            )
        )
    ).first()
    if existing is not None:
        return IngestResult(duplicate=True, applied=False)
    row = ProviderEvent(
        provider=provider,
        event_id=event.id,
        type=event.type,
        livemode=event.livemode,
        object_kind=event.object_kind,
        object_id=event.object_id,
        data=json.dumps(dict(event.data), separators=(",", ":"), default=str),
        occurred_at=event.occurred_at,
    )
    session.add(row)
    await session.flush()
    return IngestResult(duplicate=False, applied=await _apply(session, row, event))


# The insert is the duplicate check: a stored event (or one a concurrent transaction is storing
# and then commits) returns no row, so nothing is applied twice.
_STORE = sa.text(
    """
INSERT INTO provider_events (id, provider, event_id, type, livemode, object_kind, object_id,
  data, occurred_at, received_at, applied_at)
VALUES (:id, :provider, :event_id, :type, :livemode, :object_kind, :object_id, :data,
  :occurred_at, :received_at, NULL)
ON CONFLICT (provider, event_id) DO NOTHING
RETURNING id
"""
)
_APPLIED = sa.text("UPDATE provider_events SET applied_at = :applied_at WHERE id = :id")


async def _ingest_with_statements(
    session: AsyncSession, provider: str, event: WebhookEvent
) -> IngestResult:
    """PostgreSQL: the event stored by one statement and marked applied by another, on the
    transaction's connection (no unit of work); the handler applies it in between."""
    connection = await session.connection()
    received_at = utcnow()
    event_row_id = new_id("pevt")
    stored = await connection.execute(
        _STORE,
        {
            "id": event_row_id,
            "provider": provider,
            "event_id": event.id,
            "type": event.type,
            "livemode": event.livemode,
            "object_kind": event.object_kind,
            "object_id": event.object_id,
            "data": json.dumps(dict(event.data), separators=(",", ":"), default=str),
            "occurred_at": event.occurred_at,
            "received_at": received_at,
        },
    )
    if stored.first() is None:
        return IngestResult(duplicate=True, applied=False)
    if not await _handle(session, provider, event):
        return IngestResult(duplicate=False, applied=False)
    applied_at = utcnow()
    await connection.execute(_APPLIED, {"id": event_row_id, "applied_at": applied_at})
    _observe_lag(received_at, applied_at)
    return IngestResult(duplicate=False, applied=True)


async def keep_rejected(
    session: AsyncSession, provider: str, body: bytes, reason: str, webhook_id: str | None
) -> str:
    """Keep a signed event we could not take, byte for byte, for someone to inspect."""
    row = RejectedProviderEvent(
        provider=provider,
        webhook_id=_printable(webhook_id, 128) if webhook_id else None,
        reason=_printable(reason, 500),
        body=body,
    )
    session.add(row)
    await session.flush()
    return row.id


def _printable(text: str, limit: int) -> str:
    """ASCII with everything else (NUL, controls, lone surrogates...) escaped, cut to ``limit``:
    always storable."""
    return text.encode("unicode_escape").decode("ascii")[:limit]


async def apply_pending_for(
    session: AsyncSession, provider: str, object_kind: str, object_id: str
) -> int:
    """Apply stored, not yet applied events about one object, oldest first."""
    rows = (
        (
            await session.execute(
                sa.select(ProviderEvent)
                .where(
                    col(ProviderEvent.provider) == provider,
                    col(ProviderEvent.object_kind) == object_kind,
                    col(ProviderEvent.object_id) == object_id,
                    col(ProviderEvent.applied_at).is_(None),
                )
                .order_by(col(ProviderEvent.occurred_at), col(ProviderEvent.received_at))
            )
        )
        .scalars()
        .all()
    )
    applied = 0
    for row in rows:
        if await _apply(session, row, to_event(row)):
            applied += 1
    return applied


async def pending_objects(session: AsyncSession, limit: int = 100) -> list[tuple[str, str, str]]:
    """(provider, kind, object id) of objects with events still waiting to be applied."""
    result = await session.execute(
        sa.select(
            col(ProviderEvent.provider),
            col(ProviderEvent.object_kind),
            col(ProviderEvent.object_id),
        )
        .where(col(ProviderEvent.applied_at).is_(None))
        .group_by(
            col(ProviderEvent.provider),
            col(ProviderEvent.object_kind),
            col(ProviderEvent.object_id),
        )
        # Newest first: events about objects that never appear must not starve fresh ones.
        .order_by(sa.func.max(col(ProviderEvent.received_at)).desc())
        .limit(limit)
    )
    return [(str(p), str(k), str(o)) for p, k, o in result.all()]


def to_event(row: ProviderEvent) -> WebhookEvent:
    return WebhookEvent(
        id=row.event_id,
        type=row.type,
        occurred_at=row.occurred_at,
        livemode=row.livemode,
        object_kind=row.object_kind,  # type: ignore[arg-type]
        object_id=row.object_id,
        data=json.loads(row.data),
    )


async def _handle(session: AsyncSession, provider: str, event: WebhookEvent) -> bool:
    handler = _handlers().get(event.object_kind)
    if handler is None:
        log.warning("no handler for %s events; kept pending", event.object_kind)
        return False
    return await handler(session, provider, event)


async def _apply(session: AsyncSession, row: ProviderEvent, event: WebhookEvent) -> bool:
    if not await _handle(session, row.provider, event):
        return False
    row.applied_at = utcnow()
    session.add(row)
    await session.flush()
    _observe_lag(row.received_at, row.applied_at)
    return True


def _observe_lag(received_at: datetime, applied_at: datetime) -> None:
    lag = max(applied_at - received_at, timedelta(0)).total_seconds()
    for observe in LAG_OBSERVERS:
        observe(lag)
