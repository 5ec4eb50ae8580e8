"""Revoking client sessions: ``revokeClientSessions`` refuses every token of an organization and
mode minted before an instant, in every server process within a second.

The revocation is an event in the event log (``client_sessions.revoked``), written in the
mutation's transaction: the log makes it durable and the event bus carries it to every process
at commit (PostgreSQL NOTIFY, or in process). Each process keeps the latest instant per
organization and mode in memory (``RevocationList``), loaded from the log at start and reloaded
whenever the bus listener reconnects (notifications may have been missed meanwhile), so checking
a token never touches the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import Event
from models.event import CLIENT_SESSIONS_REVOKED
from services.client_sessions.tokens import ClientSession
from services.infra.events import PublishedEvent, record_event

log = logging.getLogger(__name__)

REVOKED_EVENT = CLIENT_SESSIONS_REVOKED
OBJECT_TYPE = "organization"


def _millis(instant: datetime) -> int:
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return int(instant.timestamp() * 1000)


class RevocationList:
    """The latest revocation instant per (organization, livemode), in milliseconds."""

    def __init__(self) -> None:
        self._before: dict[tuple[str, bool], int] = {}

    def revoke(self, organization_id: str, livemode: bool, before: datetime) -> None:
        key = (organization_id, livemode)
        millis = _millis(before)
        if millis > self._before.get(key, 0):
            self._before[key] = millis

    def is_revoked(self, session: ClientSession) -> bool:
        before = self._before.get((session.organization_id, session.livemode))
        return before is not None and session.minted_at_ms < before

    def observe(self, events: Iterable[PublishedEvent]) -> None:
        """Bus hook: every committed event reaches every process; keep the revocations."""
        for event in events:
            if event.type == REVOKED_EVENT:
                self.revoke(event.organization_id, event.livemode, event.occurred_at)

    async def load(self, session: AsyncSession) -> None:
        rows = await session.execute(
            sa.select(
                col(Event.organization_id),
                col(Event.livemode),
                sa.func.max(col(Event.occurred_at)),
            )
            .where(col(Event.type) == REVOKED_EVENT)
            .group_by(col(Event.organization_id), col(Event.livemode))
        )
        for organization_id, livemode, occurred_at in rows.all():
            if occurred_at is not None:
                self.revoke(str(organization_id), bool(livemode), occurred_at)


def record_revocation(session: AsyncSession, *, organization_id: str, livemode: bool) -> None:
    """Queue the revocation event; its ``occurred_at`` (set at commit) is the instant."""
    record_event(
        session,
        organization_id=organization_id,
        livemode=livemode,
        type=REVOKED_EVENT,
        object_type=OBJECT_TYPE,
        object_id=organization_id,
    )


async def latest_revocation(
    session: AsyncSession, *, organization_id: str, livemode: bool
) -> datetime | None:
    found = await session.execute(
        sa.select(sa.func.max(col(Event.occurred_at))).where(
            col(Event.type) == REVOKED_EVENT,
            col(Event.organization_id) == organization_id,
            col(Event.livemode) == livemode,
        )
    )
    value = found.scalar_one_or_none()
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


Reader = Callable[[], AbstractAsyncContextManager[AsyncSession]]


class RevocationFeed:
    """The event bus's observer: applies revocations as they arrive, and rereads the log in
    the background whenever the listener reconnected (notifications may have been missed)."""

    def __init__(self, revocations: RevocationList, read: Reader) -> None:
        self.revocations = revocations
        self._read = read
        self._tasks: set[asyncio.Task[None]] = set()

    def observe_event(self, event: PublishedEvent) -> None:
        if event.type == REVOKED_EVENT:
            self.revocations.revoke(event.organization_id, event.livemode, event.occurred_at)

    def resync(self) -> None:
        try:
            task = asyncio.get_running_loop().create_task(self.reload())
        except RuntimeError:  # no loop: nothing is being served
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def reload(self) -> None:
        try:
            async with self._read() as session:
                await self.revocations.load(session)
        except Exception:
            log.warning("could not reload client session revocations", exc_info=True)
