"""Outbound webhooks to the merchant (SPEC §3.10): endpoints, deliveries and their attempts.

A delivery is one event for one endpoint; its JSON body is fixed when it is created, so every
retry sends the same bytes (and the same event id). ``next_attempt_at`` doubles as the lease: a
process that claims a delivery moves it past the attempt's timeout, so no other process picks it
up while the attempt runs, and a process that dies mid-attempt lets it become due again.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import new_id, utc_column, utcnow

WEBHOOK_URL_MAX_LENGTH = 2048
WEBHOOK_DESCRIPTION_MAX_LENGTH = 500
RESPONSE_BODY_MAX_BYTES = 1024


class WebhookDeliveryStatus(enum.StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        sa.Index(
            "ix_webhook_endpoints_owner_created", "organization_id", "livemode", "created_at", "id"
        ),
    )

    id: str = Field(default_factory=lambda: new_id("we"), primary_key=True, max_length=40)
    organization_id: str = Field(foreign_key="organizations.id", max_length=40)
    livemode: bool
    url: str = Field(max_length=WEBHOOK_URL_MAX_LENGTH)
    # Comma-joined event types; empty means every type.
    events: str = Field(default="", max_length=1000)
    description: str | None = Field(default=None, max_length=WEBHOOK_DESCRIPTION_MAX_LENGTH)
    enabled: bool = True
    disabled_reason: str | None = Field(default=None, max_length=200)
    # Signing secrets, encrypted (services.webhook_endpoints.secrets); the previous one keeps
    # signing until ``previous_secret_expires_at`` after a rotation.
    secret_ciphertext: str = Field(max_length=500)
    previous_secret_ciphertext: str | None = Field(default=None, max_length=500)
    previous_secret_expires_at: datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True)
    )
    # Events of the organization with a sequence above this one are delivered here (set at
    # creation and on re-enabling: nothing from before is replayed).
    start_seq: int = Field(default=0, sa_column=sa.Column(sa.BigInteger(), nullable=False))
    # Events in a row that exhausted their attempts; the third disables the endpoint.
    consecutive_failures: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())

    @property
    def event_list(self) -> list[str]:
        return self.events.split(",") if self.events else []


class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # One delivery per logged event and endpoint, however many processes fan it out.
        sa.UniqueConstraint("endpoint_id", "source_event_id", name="uq_webhook_deliveries_event"),
        sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        sa.Index(
            "ix_webhook_deliveries_owner_created", "organization_id", "livemode", "created_at", "id"
        ),
        sa.Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at", "id"),
    )

    id: str = Field(default_factory=lambda: new_id("whd"), primary_key=True, max_length=40)
    endpoint_id: str = Field(foreign_key="webhook_endpoints.id", max_length=40)
    organization_id: str = Field(foreign_key="organizations.id", max_length=40)
    livemode: bool
    event_id: str = Field(max_length=40)  # whev_…, the envelope's id: stable across retries
    event_type: str = Field(max_length=64)
    # The event log row it came from (null for test events and redeliveries).
    source_event_id: str | None = Field(default=None, max_length=40)
    body: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    status: WebhookDeliveryStatus = Field(
        default=WebhookDeliveryStatus.PENDING, sa_column=sa.Column(sa.String(16), nullable=False)
    )
    attempt_count: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # Set while a process holds the delivery: only that process may record the attempt.
    lease_token: str | None = Field(default=None, max_length=40)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    completed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class WebhookAttempt(SQLModel, table=True):
    __tablename__ = "webhook_attempts"
    __table_args__ = (
        sa.UniqueConstraint("delivery_id", "number", name="uq_webhook_attempts_number"),
    )

    id: str = Field(default_factory=lambda: new_id("wha"), primary_key=True, max_length=40)
    delivery_id: str = Field(foreign_key="webhook_deliveries.id", max_length=40)
    number: int
    attempted_at: datetime = Field(sa_column=utc_column())
    duration_ms: int
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=200)
    response_body: str | None = Field(default=None, max_length=RESPONSE_BODY_MAX_BYTES * 4)


class WebhookEventCursor(SQLModel, table=True):
    """How far the fan-out has read an organization's event log (by its sequence)."""

    __tablename__ = "webhook_event_cursors"

    organization_id: str = Field(foreign_key="organizations.id", primary_key=True, max_length=40)
    last_seq: int = Field(default=0, sa_column=sa.Column(sa.BigInteger(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
