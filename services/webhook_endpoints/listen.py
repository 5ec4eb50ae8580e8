"""``payouts listen URL``: forward an organization's events to a local URL while developing
(like the platform's ``commet listen``). It follows the event log from now on, shapes and signs
each event exactly as deliveries are (with a secret made for the session), and POSTs it once;
nothing is stored and nothing is retried."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col

from models import Event
from models.base import utcnow
from services.infra.database import Database
from services.organizations.api_keys import Viewer
from services.webhook_endpoints.envelope import envelope, event_data, event_id_for, iso
from services.webhook_endpoints.service import current_seq
from services.webhook_endpoints.signing import delivery_headers
from services.webhook_endpoints.transport import AttemptOutcome, WebhookTransport


@dataclass(frozen=True, slots=True)
class Forwarded:
    event_type: str
    event_id: str
    at: datetime
    outcome: AttemptOutcome


def local_url(target: str) -> str:
    """``4000`` → ``http://localhost:4000/``; ``localhost:3000/hooks`` gets ``http://``."""
    target = target.strip()
    if target.isdigit():
        return f"http://localhost:{target}/"
    if "://" not in target:
        target = "http://" + target
    return target


async def forward(
    db: Database,
    viewer: Viewer,
    url: str,
    secret: str,
    *,
    events: Sequence[str] = (),
    poll_seconds: float = 0.25,
    timeout_seconds: float = 10.0,
) -> AsyncIterator[Forwarded]:
    """Each event of the viewer's organization and mode committed from now on, forwarded."""
    transport = WebhookTransport(allow_private=True, timeout_seconds=timeout_seconds)
    async with db.read() as session:
        last = await current_seq(session, viewer.organization_id)
    try:
        while True:
            async with db.read() as session:
                found = await session.execute(
                    sa.select(Event)
                    .where(
                        col(Event.organization_id) == viewer.organization_id,
                        col(Event.seq) > last,
                    )
                    .order_by(col(Event.seq))
                    .limit(100)
                )
                batch = list(found.scalars())
                bodies: list[tuple[Event, str]] = []
                for event in batch:
                    if event.livemode != viewer.livemode or (events and event.type not in events):
                        continue
                    data = await event_data(session, event)
                    if data is not None:
                        bodies.append((event, _body(event, data)))
            if batch:
                last = batch[-1].seq
            for event, body in bodies:
                now = utcnow()
                event_id = event_id_for(event.id)
                headers = delivery_headers(
                    body=body,
                    event_id=event_id,
                    event_type=event.type,
                    event_timestamp=iso(event.occurred_at) or "",
                    secrets=[secret],
                    sent_at=now,
                )
                outcome = await transport.post(url, body.encode(), headers)
                yield Forwarded(event.type, event_id, now, outcome)
            if not batch:
                await asyncio.sleep(poll_seconds)
    finally:
        await transport.close()


def _body(event: Event, data: dict[str, object]) -> str:
    return envelope(
        event_id=event_id_for(event.id),
        event_type=event.type,
        occurred_at=event.occurred_at,
        organization_id=event.organization_id,
        livemode=event.livemode,
        data=data,
    )
