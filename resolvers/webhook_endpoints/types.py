"""``WebhookEndpoint``, ``WebhookDelivery`` and ``WebhookAttempt``, built from service rows."""

from __future__ import annotations

from datetime import datetime

import strawberry

from models.webhook_endpoint import WebhookAttempt as AttemptRow
from models.webhook_endpoint import WebhookDeliveryStatus
from models.webhook_endpoint import WebhookEndpoint as EndpointRow
from resolvers.node import Node
from services.webhook_endpoints.service import DeliveryView

WebhookDeliveryStatusEnum = strawberry.enum(
    WebhookDeliveryStatus,
    name="WebhookDeliveryStatus",
    description="PENDING until a 2xx (SUCCEEDED) or the last attempt fails (FAILED).",
)


@strawberry.type(description="Where your organization's events are sent, signed.")
class WebhookEndpoint(Node):
    url: str
    events: list[str] = strawberry.field(
        description="The event types sent here; empty means every type."
    )
    description: str | None
    enabled: bool
    disabled_reason: str | None = strawberry.field(
        description="Why the endpoint was disabled (null while enabled)."
    )

    @classmethod
    def from_row(cls, row: EndpointRow) -> WebhookEndpoint:
        return cls(
            id=strawberry.ID(row.id),
            created_at=row.created_at,
            livemode=row.livemode,
            url=row.url,
            events=row.event_list,
            description=row.description,
            enabled=row.enabled,
            disabled_reason=row.disabled_reason,
        )


@strawberry.type(description="One attempt to deliver an event.")
class WebhookAttempt:
    attempted_at: datetime
    duration_ms: int
    status_code: int | None = strawberry.field(description="Null when no HTTP answer came.")
    error: str | None = strawberry.field(description="The network error, when there was one.")
    response_body: str | None = strawberry.field(description="The first 1 KB of the answer.")

    @classmethod
    def from_row(cls, row: AttemptRow) -> WebhookAttempt:
        return cls(
            attempted_at=row.attempted_at,
            duration_ms=row.duration_ms,
            status_code=row.status_code,
            error=row.error,
            response_body=row.response_body,
        )


@strawberry.type(description="One event for one endpoint, with every attempt so far.")
class WebhookDelivery(Node):
    endpoint: WebhookEndpoint
    event_id: str = strawberry.field(description="The envelope id (whev_…), the same on retries.")
    event_type: str
    status: WebhookDeliveryStatusEnum  # type: ignore[valid-type]
    attempt_count: int
    next_attempt_at: datetime | None = strawberry.field(
        description="When the next attempt is due (null once finished)."
    )
    attempts: list[WebhookAttempt]
    payload: str = strawberry.field(description="The JSON body sent, byte for byte.")

    @classmethod
    def from_view(cls, view: DeliveryView) -> WebhookDelivery:
        row = view.delivery
        pending = row.status == WebhookDeliveryStatus.PENDING
        return cls(
            id=strawberry.ID(row.id),
            created_at=row.created_at,
            livemode=row.livemode,
            endpoint=WebhookEndpoint.from_row(view.endpoint),
            event_id=row.event_id,
            event_type=row.event_type,
            status=WebhookDeliveryStatus(row.status),
            attempt_count=row.attempt_count,
            next_attempt_at=row.next_attempt_at if pending else None,
            attempts=[WebhookAttempt.from_row(a) for a in view.attempts],
            payload=row.body,
        )
