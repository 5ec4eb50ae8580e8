"""Fan-out: the event log becomes deliveries, one per event and matching endpoint.

Each organization with webhook endpoints has a cursor on its event sequence. A pass takes the
cursors that are behind (``SKIP LOCKED`` on PostgreSQL, so processes share the work; the single
writer on SQLite), creates the deliveries of the events after them and moves them on, in one
transaction: an event committed is an event delivered, whatever crashes in between, and never
fanned out twice (a unique key on endpoint and event backs that too). Events of one
organization commit in sequence order (``services.events``), so nothing can appear behind a
cursor later.
"""

from __future__ import annotations

from typing import cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import Event, Organization
from models.base import utcnow
from models.webhook_endpoint import WebhookEndpoint, WebhookEventCursor
from services.infra.database import Database
from services.webhook_endpoints.envelope import envelope, event_data, event_id_for
from services.webhook_endpoints.service import new_delivery

CURSORS = cast(sa.Table, WebhookEventCursor.__table__)  # type: ignore[attr-defined]
ORGANIZATIONS = cast(sa.Table, Organization.__table__)  # type: ignore[attr-defined]


def backlog_query() -> sa.Select[tuple[str]]:
    """The cursors behind their organization's log (one is enough to say there is work)."""
    return (
        sa.select(CURSORS.c.organization_id)
        .join(ORGANIZATIONS, ORGANIZATIONS.c.id == CURSORS.c.organization_id)
        .where(ORGANIZATIONS.c.event_seq > CURSORS.c.last_seq)
        .limit(1)
    )


async def has_backlog(db: Database) -> bool:
    """A cheap read: is any cursor behind its organization's log?"""
    async with db.read() as session:
        found = await session.execute(backlog_query())
        return found.first() is not None


async def fan_out_pass(db: Database, *, organizations: int = 20, events: int = 500) -> int:
    """Fan out the events after the cursors that are behind; the number of events read."""
    async with db.transaction() as session:
        return await fan_out(session, organizations=organizations, events=events)


async def fan_out(session: AsyncSession, *, organizations: int, events: int) -> int:
    stmt = (
        sa.select(CURSORS.c.organization_id, CURSORS.c.last_seq)
        .join(ORGANIZATIONS, ORGANIZATIONS.c.id == CURSORS.c.organization_id)
        .where(ORGANIZATIONS.c.event_seq > CURSORS.c.last_seq)
        .limit(organizations)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=CURSORS, skip_locked=True)
    behind = list((await session.execute(stmt)).all())
    read = 0
    for organization_id, last_seq in behind:
        read += await _fan_out_organization(session, organization_id, int(last_seq), events)
    return read


async def _fan_out_organization(
    session: AsyncSession, organization_id: str, last_seq: int, limit: int
) -> int:
    found = await session.execute(
        sa.select(Event)
        .where(col(Event.organization_id) == organization_id, col(Event.seq) > last_seq)
        .order_by(col(Event.seq))
        .limit(limit)
    )
    logged = list(found.scalars())
    if not logged:
        return 0
    endpoints = list(
        (
            await session.execute(
                sa.select(WebhookEndpoint).where(
                    col(WebhookEndpoint.organization_id) == organization_id,
                    col(WebhookEndpoint.enabled).is_(True),
                )
            )
        ).scalars()
    )
    now = utcnow()
    for event in logged:
        targets = [e for e in endpoints if _wants(e, event)]
        if not targets:
            continue
        data = await event_data(session, event)
        if data is None:
            continue
        event_id = event_id_for(event.id)
        body = envelope(
            event_id=event_id,
            event_type=event.type,
            occurred_at=event.occurred_at,
            organization_id=event.organization_id,
            livemode=event.livemode,
            data=data,
        )
        for endpoint in targets:
            session.add(new_delivery(endpoint, event_id, event.type, body, event.id, now))
    await session.execute(
        sa.update(CURSORS)
        .where(CURSORS.c.organization_id == organization_id)
        .values(last_seq=logged[-1].seq, updated_at=now)
    )
    await session.flush()
    return len(logged)


def _wants(endpoint: WebhookEndpoint, event: Event) -> bool:
    if endpoint.livemode != event.livemode or event.seq <= endpoint.start_seq:
        return False
    wanted = endpoint.event_list
    return not wanted or event.type in wanted
