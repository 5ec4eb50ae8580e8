"""Webhook endpoint mutations, each through ``run_mutation`` (auth, idempotency, one
transaction, ``DomainError`` → ``userErrors`` with nothing changed).

A signing secret is in the payload of ``createWebhookEndpoint`` and
``rotateWebhookEndpointSecret`` only: it is kept out of the stored payload an idempotency key
replays (a replay shows ``secret: null``), so it is never stored in the clear anywhere.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Self

import strawberry

from resolvers.context import Info
from resolvers.errors import UserError
from resolvers.mutations import idempotency_key_field, run_mutation
from resolvers.webhook_endpoints.types import WebhookDelivery, WebhookEndpoint
from services.infra.database import Session
from services.organizations.api_keys import Viewer
from services.webhook_endpoints import service
from services.webhook_endpoints.setup import WebhookEndpoints
from services.webhook_endpoints.urls import check_url


def _setup(info: Info) -> WebhookEndpoints:
    setup = info.context.services.webhook_endpoints
    if setup is None:  # wired by api.composition in every server process
        raise RuntimeError("webhook endpoints are not configured in this process")
    return setup


@strawberry.input
class CreateWebhookEndpointInput:
    url: str = strawberry.field(description="https, public addresses only.")
    events: list[str] | None = strawberry.field(
        default=None, description="Event types to send; omitted or empty means every type."
    )
    description: str | None = None
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input(description="Only the fields given change.")
class UpdateWebhookEndpointInput:
    id: strawberry.ID
    url: str | None = None
    events: list[str] | None = None
    description: str | None = strawberry.field(
        default=None, description="An empty string clears the description; null keeps it."
    )
    enabled: bool | None = strawberry.field(
        default=None,
        description="true re-enables (from the next event on; nothing missed is replayed).",
    )
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input
class RotateWebhookEndpointSecretInput:
    id: strawberry.ID
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input
class DeleteWebhookEndpointInput:
    id: strawberry.ID
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input
class SendTestWebhookInput:
    endpoint_id: strawberry.ID
    idempotency_key: str | None = idempotency_key_field()


@strawberry.input
class RedeliverWebhookInput:
    delivery_id: strawberry.ID
    idempotency_key: str | None = idempotency_key_field()


@strawberry.type
class SecretPayload:
    webhook_endpoint: WebhookEndpoint | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
    # Not a dataclass init field: never part of the stored (replayable) payload.
    revealed_secret: strawberry.Private[str | None] = dataclasses.field(
        default=None, init=False, repr=False
    )

    @strawberry.field(
        description="The signing secret (whsec_…), shown this once; null on an idempotent replay."
    )
    def secret(self) -> str | None:
        return self.revealed_secret

    @classmethod
    def showing(cls, created: service.CreatedEndpoint) -> Self:
        """The payload of an endpoint with its new secret (kept out of the stored payload)."""
        payload = cls(webhook_endpoint=WebhookEndpoint.from_row(created.endpoint))
        payload.revealed_secret = created.secret
        return payload


@strawberry.type
class CreateWebhookEndpointPayload(SecretPayload):
    pass


@strawberry.type
class RotateWebhookEndpointSecretPayload(SecretPayload):
    pass


@strawberry.type
class UpdateWebhookEndpointPayload:
    webhook_endpoint: WebhookEndpoint | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeleteWebhookEndpointPayload:
    deleted_id: strawberry.ID | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeliveryPayload:
    delivery: WebhookDelivery | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SendTestWebhookPayload(DeliveryPayload):
    pass


@strawberry.type
class RedeliverWebhookPayload(DeliveryPayload):
    pass


async def _checked_url(info: Info, input: Any, viewer: Viewer) -> str | None:
    """The endpoint URL through the network guard, before the transaction (it may resolve
    the host name)."""
    url: str | None = input.url
    if url is None:
        return None
    return await check_url(url, allow_private=_setup(info).policy.allow_private_urls)


@strawberry.type
class WebhookEndpointMutation:
    @strawberry.mutation(description="Add an endpoint; its signing secret is shown once.")
    @run_mutation(prepare=_checked_url)
    async def create_webhook_endpoint(
        self,
        info: Info,
        input: CreateWebhookEndpointInput,
        session: Session,
        viewer: Viewer,
        prepared: str,
    ) -> CreateWebhookEndpointPayload:
        setup = _setup(info)
        created = await service.create_endpoint(
            session,
            viewer,
            setup.box,
            setup.policy,
            url=prepared,
            events=input.events,
            description=input.description,
        )
        return CreateWebhookEndpointPayload.showing(created)

    @strawberry.mutation(description="Change an endpoint; enabled: true re-enables it.")
    @run_mutation(prepare=_checked_url)
    async def update_webhook_endpoint(
        self,
        info: Info,
        input: UpdateWebhookEndpointInput,
        session: Session,
        viewer: Viewer,
        prepared: str | None,
    ) -> UpdateWebhookEndpointPayload:
        row = await service.update_endpoint(
            session,
            viewer,
            str(input.id),
            url=prepared,
            events=input.events,
            description=input.description,
            enabled=input.enabled,
        )
        return UpdateWebhookEndpointPayload(webhook_endpoint=WebhookEndpoint.from_row(row))

    @strawberry.mutation(
        description="A new signing secret, shown once; the old one also signs for 24 hours."
    )
    @run_mutation
    async def rotate_webhook_endpoint_secret(
        self,
        info: Info,
        input: RotateWebhookEndpointSecretInput,
        session: Session,
        viewer: Viewer,
    ) -> RotateWebhookEndpointSecretPayload:
        setup = _setup(info)
        rotated = await service.rotate_secret(
            session, viewer, setup.box, setup.policy, str(input.id)
        )
        return RotateWebhookEndpointSecretPayload.showing(rotated)

    @strawberry.mutation(description="Delete an endpoint with its delivery history.")
    @run_mutation
    async def delete_webhook_endpoint(
        self, info: Info, input: DeleteWebhookEndpointInput, session: Session, viewer: Viewer
    ) -> DeleteWebhookEndpointPayload:
        deleted = await service.delete_endpoint(session, viewer, str(input.id))
        return DeleteWebhookEndpointPayload(deleted_id=strawberry.ID(deleted))

    @strawberry.mutation(description="Send a webhook.test event to one endpoint.")
    @run_mutation
    async def send_test_webhook(
        self, info: Info, input: SendTestWebhookInput, session: Session, viewer: Viewer
    ) -> SendTestWebhookPayload:
        view = await service.send_test(session, viewer, str(input.endpoint_id))
        return SendTestWebhookPayload(delivery=WebhookDelivery.from_view(view))

    @strawberry.mutation(description="Send a delivery's event again (same id, same body).")
    @run_mutation
    async def redeliver_webhook(
        self, info: Info, input: RedeliverWebhookInput, session: Session, viewer: Viewer
    ) -> RedeliverWebhookPayload:
        view = await service.redeliver(session, viewer, str(input.delivery_id))
        return RedeliverWebhookPayload(delivery=WebhookDelivery.from_view(view))
