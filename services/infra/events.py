"""The event log: services record events inside their transaction; the edge publishes them
after commit through an ``EventBus``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from models import Event, Organization
from models.base import utcnow

log = logging.getLogger(__name__)

_PENDING_KEY = "pending_events"


@dataclass(frozen=True, slots=True)
class PublishedEvent:
    """What travels on the bus: ids only, small enough for a NOTIFY payload."""

    id: str
    organization_id: str
    livemode: bool
    seq: int
    type: str
    object_type: str
    object_id: str
    occurred_at: datetime

    @classmethod
    def from_row(cls, row: Event) -> PublishedEvent:
        return cls(
            id=row.id,
            organization_id=row.organization_id,
            livemode=row.livemode,
            seq=row.seq,
            type=row.type,
            object_type=row.object_type,
            object_id=row.object_id,
            occurred_at=row.occurred_at,
        )


class EventBus(Protocol):
    async def publish(self, events: Sequence[PublishedEvent]) -> None: ...


@runtime_checkable
class StagingEventBus(Protocol):
    """A bus that also acts inside the committing transaction (PostgreSQL NOTIFY rides the
    commit, so the announcement and the change become visible together or not at all)."""

    async def stage(self, session: AsyncSession, events: Sequence[PublishedEvent]) -> None: ...

    async def publish(self, events: Sequence[PublishedEvent]) -> None: ...


@dataclass(slots=True)
class _Pending:
    organization_id: str
    livemode: bool
    type: str
    object_type: str
    object_id: str


def record_event(
    session: AsyncSession,
    *,
    organization_id: str,
    livemode: bool,
    type: str,
    object_type: str,
    object_id: str,
) -> None:
    """Queue an event; ``persist_pending_events`` writes it just before commit."""
    pending: list[_Pending] = session.info.setdefault(_PENDING_KEY, [])
    pending.append(_Pending(organization_id, livemode, type, object_type, object_id))


async def persist_pending_events(session: AsyncSession) -> list[PublishedEvent]:
    """Write queued events with per-organization sequence numbers.

    The sequence comes from an UPDATE on the organization row, which holds that row's lock until
    commit: events of one organization therefore commit in sequence order, so a reader resuming
    after sequence N can never later see a smaller one appear.
    """
    pending: list[_Pending] = session.info.pop(_PENDING_KEY, [])
    if not pending:
        return []
    rows: list[Event] = []
    by_org: dict[str, list[_Pending]] = {}
    for item in pending:
        by_org.setdefault(item.organization_id, []).append(item)
    now = utcnow()
    for org_id in sorted(by_org):
        items = by_org[org_id]
        last = await _allocate_sequence(session, org_id, len(items))
        first = last - len(items) + 1
        for offset, item in enumerate(items):
            row = Event(
                organization_id=org_id,
                livemode=item.livemode,
                seq=first + offset,
                type=item.type,
                object_type=item.object_type,
                object_id=item.object_id,
                occurred_at=now,
            )
            session.add(row)
            rows.append(row)
    await session.flush()
    return [PublishedEvent.from_row(row) for row in rows]


async def _allocate_sequence(session: AsyncSession, organization_id: str, count: int) -> int:
    table = Organization.__table__  # type: ignore[attr-defined]
    result = await session.execute(
        sa.update(table)
        .where(table.c.id == organization_id)
        .values(event_seq=table.c.event_seq + count)
        .returning(table.c.event_seq)
    )
    return int(result.scalar_one())


class NullBus:
    """Publishes nowhere; used by CLI commands that run outside a server."""

    async def publish(self, events: Sequence[PublishedEvent]) -> None:
        return None
