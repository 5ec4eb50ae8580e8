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
from services.infra.statement_pool import StatementPool

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, str, WebhookEvent], Awaitable[bool]]
# Observers of receipt-to-applied lag (metrics); called after the applying transaction flushes.
LAG_OBSERVERS: list[Callable[[float], None]] = []


def _handlers() -> Mapping[str, Handler]:
    # Imported when first needed: the handlers' own modules import this one (a new payout
    # account applies the events that waited for it).
    from services.provider_events.handlers import HANDLERS

    return HANDLERS


def _known_objects() -> Mapping[str, str]:
    from services.provider_events.handlers import KNOWN_OBJECTS

    return KNOWN_OBJECTS


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


# PostgreSQL, one statement in autocommit: the event is stored (pending) unless it is already
# stored or its object is known; ``known`` says the latter (nothing is written then).
_STORE_PENDING = """
WITH known AS ({known}),
stored AS (
  INSERT INTO provider_events (id, provider, event_id, type, livemode, object_kind, object_id,
    data, occurred_at, received_at, applied_at)
  SELECT $1, $2, $3, $4, $5::boolean, $6, $7, $8, $9::timestamptz, $10::timestamptz, NULL
  WHERE NOT EXISTS (SELECT 1 FROM known)
  ON CONFLICT (provider, event_id) DO NOTHING
  RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM known) AS known, EXISTS (SELECT 1 FROM stored) AS stored
"""
_NOTHING_KNOWN = "SELECT 1 WHERE false"
_store_pending_sql: dict[str, str] = {}


def _store_pending_statement(object_kind: str) -> str:
    sql = _store_pending_sql.get(object_kind)
    if sql is None:
        known = _known_objects().get(object_kind, _NOTHING_KNOWN)
        sql = _store_pending_sql[object_kind] = _STORE_PENDING.format(
            known=known.format(provider="$2", object_id="$7", livemode="$5::boolean")
        )
    return sql


async def store_pending(
    statements: StatementPool, provider: str, event: WebhookEvent
) -> IngestResult | None:
    """PostgreSQL: ``ingest`` in one autocommit statement for an event its handler could not
    apply yet (its object is not stored): the outcome ``ingest`` would have had (stored and
    pending, or a duplicate), without a transaction. None when the object is known: nothing was
    written, and the event must go through ``ingest`` (stored and applied in one transaction).

    Run again on a fresh connection if its connection had died: the second run finds the first's
    row and answers "duplicate", which changes nothing. An object committed while this runs is
    missed like in ``ingest`` (its creator's ``apply_pending_for`` cannot see this event yet);
    the pending sweep applies the event then."""
    if event.occurred_at.tzinfo is None:
        return None  # refused by ``ingest`` (UTC columns take aware datetimes only)
    row = await statements.fetchrow(
        _store_pending_statement(event.object_kind),
        (
            new_id("pevt"),
            provider,
            event.id,
            event.type,
            event.livemode,
            event.object_kind,
            event.object_id,
            json.dumps(dict(event.data), separators=(",", ":"), default=str),
            event.occurred_at,
            utcnow(),
        ),
    )
    assert row is not None  # the final SELECT always returns one row
    if row["known"]:
        return None
    return IngestResult(duplicate=not row["stored"], applied=False)


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
    """(provider, kind, object id) of objects with events still waiting to be applied, among
    the objects stored now (``handlers.KNOWN_OBJECTS``): for the others the handler would apply
    nothing, and re-trying them every sweep cost a transaction each (issue 16, case 4: the
    bench's thousands of events about objects that never appear)."""
    result = await session.execute(_pending_known_statement(), {"limit": limit})
    return [(str(p), str(k), str(o)) for p, k, o in result.all()]


def _pending_known_statement() -> sa.TextClause:
    kinds = sorted(_known_objects().items())
    known = " OR ".join(
        f"(e.object_kind = :kind_{index} AND EXISTS ("
        + sql.format(provider="e.provider", object_id="e.object_id", livemode="e.livemode")
        + "))"
        for index, (_, sql) in enumerate(kinds)
    )
    statement = sa.text(
        f"""
SELECT e.provider, e.object_kind, e.object_id FROM provider_events AS e
WHERE e.applied_at IS NULL AND ({known or "1 = 0"})
GROUP BY e.provider, e.object_kind, e.object_id
ORDER BY max(e.received_at) DESC
LIMIT :limit
"""
    )
    # Newest first: events about objects whose events keep failing must not starve fresh ones.
    return statement.bindparams(**{f"kind_{index}": kind for index, (kind, _) in enumerate(kinds)})


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
