"""Webhook endpoints and their deliveries: every rule, scoped to the viewer's organization and
mode (another organization's or mode's id behaves exactly like an unknown one)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import Organization
from models.base import new_id, utcnow
from models.webhook_endpoint import (
    WEBHOOK_DESCRIPTION_MAX_LENGTH,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEventCursor,
)
from services.errors import DomainError, NotFound, ValidationFailed, validation_error
from services.organizations.api_keys import Viewer
from services.pagination import Page, keyset_page
from services.scope import in_scope, locked, scoped
from services.webhook_endpoints.envelope import EVENT_TYPES, TEST_EVENT_TYPE, test_body
from services.webhook_endpoints.policy import WebhookPolicy
from services.webhook_endpoints.secrets import SecretBox, new_secret

MAX_EVENT_TYPES = len(EVENT_TYPES)
DELIVERIES = cast(sa.Table, WebhookDelivery.__table__)  # type: ignore[attr-defined]
ATTEMPTS = cast(sa.Table, WebhookAttempt.__table__)  # type: ignore[attr-defined]
CURSORS = cast(sa.Table, WebhookEventCursor.__table__)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class CreatedEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # shown once


@dataclass(frozen=True, slots=True)
class DeliveryView:
    delivery: WebhookDelivery
    endpoint: WebhookEndpoint
    attempts: list[WebhookAttempt]

    @property
    def id(self) -> str:
        return self.delivery.id

    @property
    def created_at(self) -> datetime:
        return self.delivery.created_at


def normalize_events(values: Sequence[str] | None) -> str:
    if not values:
        return ""
    if len(values) > MAX_EVENT_TYPES:
        raise validation_error(f"at most {MAX_EVENT_TYPES} event types", "input", "events")
    chosen = {value.strip() for value in values}
    unknown = sorted(chosen - set(EVENT_TYPES))
    if unknown:
        raise validation_error(
            f"unknown event types {unknown[:5]}; known: {', '.join(EVENT_TYPES)}",
            "input",
            "events",
        )
    return ",".join(sorted(chosen))


def clean_description(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > WEBHOOK_DESCRIPTION_MAX_LENGTH:
        raise validation_error(
            f"description must be at most {WEBHOOK_DESCRIPTION_MAX_LENGTH} characters",
            "input",
            "description",
        )
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in value):
        raise validation_error(
            "description must not contain control characters", "input", "description"
        )
    return value


async def create_endpoint(
    session: AsyncSession,
    viewer: Viewer,
    box: SecretBox,
    policy: WebhookPolicy,
    *,
    url: str,
    events: Sequence[str] | None,
    description: str | None,
) -> CreatedEndpoint:
    """``url`` has passed ``urls.check_url`` already (it may resolve names, so it runs before
    the transaction)."""
    problems: list[DomainError] = []
    try:
        event_text = normalize_events(events)
    except DomainError as error:
        problems.append(error)
    try:
        description = clean_description(description)
    except DomainError as error:
        problems.append(error)
    if problems:
        raise ValidationFailed(problems)
    count = (
        await session.execute(
            sa.select(sa.func.count())
            .select_from(WebhookEndpoint)
            .where(in_scope(WebhookEndpoint, viewer))
        )
    ).scalar_one()
    if count >= policy.max_endpoints:
        raise validation_error(
            f"at most {policy.max_endpoints} webhook endpoints per organization and mode", "input"
        )
    seq = await current_seq(session, viewer.organization_id)
    await _ensure_cursor(session, viewer.organization_id, seq)
    secret = new_secret()
    endpoint = WebhookEndpoint(
        organization_id=viewer.organization_id,
        livemode=viewer.livemode,
        url=url,
        events=event_text,
        description=description,
        secret_ciphertext="",
        start_seq=seq,
    )
    endpoint.secret_ciphertext = box.seal(secret, endpoint.id)
    session.add(endpoint)
    await session.flush()
    return CreatedEndpoint(endpoint, secret)


async def get_endpoint(
    session: AsyncSession, viewer: Viewer, endpoint_id: str, *, lock: bool = False
) -> WebhookEndpoint | None:
    stmt = scoped(WebhookEndpoint, viewer, col(WebhookEndpoint.id) == endpoint_id)
    if lock:
        stmt = locked(stmt)
    return (await session.execute(stmt)).scalar_one_or_none()


async def require_endpoint(
    session: AsyncSession, viewer: Viewer, endpoint_id: str, field: Sequence[str]
) -> WebhookEndpoint:
    endpoint = await get_endpoint(session, viewer, endpoint_id, lock=True)
    if endpoint is None:
        raise NotFound("webhook endpoint", field)
    return endpoint


async def list_endpoints(
    session: AsyncSession, viewer: Viewer, *, first: int | None, after: str | None
) -> Page[WebhookEndpoint]:
    stmt = scoped(WebhookEndpoint, viewer)
    return await keyset_page(session, stmt, WebhookEndpoint, first=first, after=after)


async def update_endpoint(
    session: AsyncSession,
    viewer: Viewer,
    endpoint_id: str,
    *,
    url: str | None,
    events: Sequence[str] | None,
    description: str | None,
    enabled: bool | None,
) -> WebhookEndpoint:
    """Only the fields given change. Re-enabling clears the failure streak and starts from the
    events after now: what happened while disabled is not replayed."""
    problems: list[DomainError] = []
    event_text = None
    try:
        event_text = None if events is None else normalize_events(events)
    except DomainError as error:
        problems.append(error)
    try:
        cleaned = clean_description(description)
    except DomainError as error:
        problems.append(error)
    if problems:
        raise ValidationFailed(problems)
    endpoint = await require_endpoint(session, viewer, endpoint_id, ["input", "id"])
    if url is not None:
        endpoint.url = url
    if event_text is not None:
        endpoint.events = event_text
    if description is not None:
        endpoint.description = cleaned
    if enabled is True and not endpoint.enabled:
        endpoint.enabled = True
        endpoint.disabled_reason = None
        endpoint.consecutive_failures = 0
        endpoint.start_seq = await current_seq(session, viewer.organization_id)
    elif enabled is False and endpoint.enabled:
        endpoint.enabled = False
        endpoint.disabled_reason = "Disabled on request."
    endpoint.updated_at = utcnow()
    session.add(endpoint)
    await session.flush()
    return endpoint


async def rotate_secret(
    session: AsyncSession, viewer: Viewer, box: SecretBox, policy: WebhookPolicy, endpoint_id: str
) -> CreatedEndpoint:
    """A new secret signs from now on; the current one keeps signing too for the overlap."""
    endpoint = await require_endpoint(session, viewer, endpoint_id, ["input", "id"])
    secret = new_secret()
    now = utcnow()
    endpoint.previous_secret_ciphertext = endpoint.secret_ciphertext
    endpoint.previous_secret_expires_at = now + timedelta(seconds=policy.rotation_overlap_seconds)
    endpoint.secret_ciphertext = box.seal(secret, endpoint.id)
    endpoint.updated_at = now
    session.add(endpoint)
    await session.flush()
    return CreatedEndpoint(endpoint, secret)


def signing_secrets(box: SecretBox, endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, then the previous one during its overlap."""
    found = [box.open(endpoint.secret_ciphertext, endpoint.id)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_ciphertext and expires is not None and expires > now:
        found.append(box.open(endpoint.previous_secret_ciphertext, endpoint.id))
    return found


async def delete_endpoint(session: AsyncSession, viewer: Viewer, endpoint_id: str) -> str:
    """The endpoint goes with its deliveries and their attempts."""
    endpoint = await require_endpoint(session, viewer, endpoint_id, ["input", "id"])
    delivery_ids = sa.select(DELIVERIES.c.id).where(DELIVERIES.c.endpoint_id == endpoint.id)
    await session.execute(sa.delete(ATTEMPTS).where(ATTEMPTS.c.delivery_id.in_(delivery_ids)))
    await session.execute(sa.delete(DELIVERIES).where(DELIVERIES.c.endpoint_id == endpoint.id))
    await session.delete(endpoint)
    await session.flush()
    return endpoint.id


async def send_test(session: AsyncSession, viewer: Viewer, endpoint_id: str) -> DeliveryView:
    """A ``webhook.test`` event for one endpoint, due now (sent once the endpoint is enabled)."""
    endpoint = await require_endpoint(session, viewer, endpoint_id, ["input", "endpointId"])
    event_id, body = test_body(viewer.organization_id, viewer.livemode, endpoint.id)
    delivery = new_delivery(endpoint, event_id, TEST_EVENT_TYPE, body, None)
    session.add(delivery)
    await session.flush()
    return DeliveryView(delivery, endpoint, [])


async def redeliver(session: AsyncSession, viewer: Viewer, delivery_id: str) -> DeliveryView:
    """The same event (same id, same body) once more, as a new delivery due now."""
    original = await get_delivery_row(session, viewer, delivery_id)
    if original is None:
        raise NotFound("webhook delivery", ["input", "deliveryId"])
    endpoint = await require_endpoint(
        session, viewer, original.endpoint_id, ["input", "deliveryId"]
    )
    delivery = new_delivery(endpoint, original.event_id, original.event_type, original.body, None)
    session.add(delivery)
    await session.flush()
    return DeliveryView(delivery, endpoint, [])


def new_delivery(
    endpoint: WebhookEndpoint,
    event_id: str,
    event_type: str,
    body: str,
    source_event_id: str | None,
    now: datetime | None = None,
) -> WebhookDelivery:
    now = now or utcnow()
    return WebhookDelivery(
        id=new_id("whd"),
        endpoint_id=endpoint.id,
        organization_id=endpoint.organization_id,
        livemode=endpoint.livemode,
        event_id=event_id,
        event_type=event_type,
        source_event_id=source_event_id,
        body=body,
        status=WebhookDeliveryStatus.PENDING,
        next_attempt_at=now,
        created_at=now,
    )


async def get_delivery_row(
    session: AsyncSession, viewer: Viewer, delivery_id: str
) -> WebhookDelivery | None:
    stmt = scoped(WebhookDelivery, viewer, col(WebhookDelivery.id) == delivery_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_delivery(
    session: AsyncSession, viewer: Viewer, delivery_id: str
) -> DeliveryView | None:
    row = await get_delivery_row(session, viewer, delivery_id)
    if row is None:
        return None
    views = await _views(session, [row])
    return views[0] if views else None


async def list_deliveries(
    session: AsyncSession,
    viewer: Viewer,
    *,
    endpoint_id: str | None,
    status: WebhookDeliveryStatus | None,
    first: int | None,
    after: str | None,
) -> Page[DeliveryView]:
    stmt = scoped(WebhookDelivery, viewer)
    if endpoint_id is not None:
        stmt = stmt.where(col(WebhookDelivery.endpoint_id) == endpoint_id)
    if status is not None:
        stmt = stmt.where(col(WebhookDelivery.status) == status.value)
    page = await keyset_page(session, stmt, WebhookDelivery, first=first, after=after)
    views = await _views(session, page.rows)
    return Page(views, page.has_next_page, page.has_previous_page)


async def _views(session: AsyncSession, rows: Sequence[WebhookDelivery]) -> list[DeliveryView]:
    if not rows:
        return []
    endpoint_ids = {row.endpoint_id for row in rows}
    endpoints = {
        e.id: e
        for e in (
            await session.execute(
                sa.select(WebhookEndpoint).where(col(WebhookEndpoint.id).in_(endpoint_ids))
            )
        ).scalars()
    }
    attempts: dict[str, list[WebhookAttempt]] = {}
    found = await session.execute(
        sa.select(WebhookAttempt)
        .where(col(WebhookAttempt.delivery_id).in_([row.id for row in rows]))
        .order_by(col(WebhookAttempt.delivery_id), col(WebhookAttempt.number))
    )
    for attempt in found.scalars():
        attempts.setdefault(attempt.delivery_id, []).append(attempt)
    return [
        DeliveryView(row, endpoints[row.endpoint_id], attempts.get(row.id, []))
        for row in rows
        if row.endpoint_id in endpoints
    ]


async def current_seq(session: AsyncSession, organization_id: str) -> int:
    stmt = sa.select(col(Organization.event_seq)).where(col(Organization.id) == organization_id)
    return int((await session.execute(stmt)).scalar_one())


async def _ensure_cursor(session: AsyncSession, organization_id: str, seq: int) -> None:
    """The fan-out reads this organization's log from here on (an existing cursor stays)."""
    values = {"organization_id": organization_id, "last_seq": seq, "updated_at": utcnow()}
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(postgresql.insert(CURSORS).values(**values).on_conflict_do_nothing())
    else:
        await session.execute(sqlite.insert(CURSORS).values(**values).on_conflict_do_nothing())
