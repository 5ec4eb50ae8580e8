"""Webhook endpoint mutations, each through ``run_mutation`` (auth, idempotency, one
transaction, ``DomainError`` → ``userErrors`` with nothing changed).

A signing secret is in the payload of ``createWebhookEndpoint`` and
``rotateWebhookEndpointSecret`` only: it is kept out of the stored payload an idempotency key
replays (a replay shows ``secret: null``), so it is never stored in the clear anywhere.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from resolvers.context import Info
from resolvers.errors import UserError
from resolvers.mutations import run_mutation
from resolvers.webhook_endpoints.types import WebhookDelivery, WebhookEndpoint
from services.api_keys import Viewer
from services.webhook_endpoints import service
from services.webhook_endpoints.setup import WebhookEndpoints
from services.webhook_endpoints.urls import check_url


def _idempotency_key() -> Any:
    return strawberry.field(
        default=None, description="Same key and input within 24 h replays the first payload."
    )


def _setup(info: Info) -> WebhookEndpoints:
    setup: WebhookEndpoints = info.context.services["webhook_endpoints"]
    return setup


@strawberry.input
class CreateWebhookEndpointInput:
    url: str = strawberry.field(description="https, public addresses only.")
    events: list[str] | None = strawberry.field(
        default=None, description="Event types to send; omitted or empty means every type."
    )
    description: str | None = None
    idempotency_key: str | None = _idempotency_key()


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
    idempotency_key: str | None = _idempotency_key()


@strawberry.input
class RotateWebhookEndpointSecretInput:
    id: strawberry.ID
    idempotency_key: str | None = _idempotency_key()


@strawberry.input
class DeleteWebhookEndpointInput:
    id: strawberry.ID
    idempotency_key: str | None = _idempotency_key()


@strawberry.input
class SendTestWebhookInput:
    endpoint_id: strawberry.ID
    idempotency_key: str | None = _idempotency_key()


@strawberry.input
class RedeliverWebhookInput:
    delivery_id: strawberry.ID
    idempotency_key: str | None = _idempotency_key()


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


@strawberry.type
class WebhookEndpointMutation:
    @strawberry.mutation(description="Add an endpoint; its signing secret is shown once.")
    async def create_webhook_endpoint(
        self, info: Info, input: CreateWebhookEndpointInput
    ) -> CreateWebhookEndpointPayload:
        setup = _setup(info)
        checked: list[str] = []

        async def prepare(viewer: Viewer) -> None:
            checked.append(
                await check_url(input.url, allow_private=setup.policy.allow_private_urls)
            )

        async def action(session: AsyncSession, viewer: Viewer) -> CreateWebhookEndpointPayload:
            created = await service.create_endpoint(
                session,
                viewer,
                setup.box,
                setup.policy,
                url=checked[0],
                events=input.events,
                description=input.description,
            )
            payload = CreateWebhookEndpointPayload(
                webhook_endpoint=WebhookEndpoint.from_row(created.endpoint)
            )
            payload.revealed_secret = created.secret
            return payload

        return await run_mutation(
            info,
            name="createWebhookEndpoint",
            input=input,
            payload=CreateWebhookEndpointPayload,
            action=action,
            prepare=prepare,
        )

    @strawberry.mutation(description="Change an endpoint; enabled: true re-enables it.")
    async def update_webhook_endpoint(
        self, info: Info, input: UpdateWebhookEndpointInput
    ) -> UpdateWebhookEndpointPayload:
        setup = _setup(info)
        checked: list[str | None] = [None]

        async def prepare(viewer: Viewer) -> None:
            if input.url is not None:
                checked[0] = await check_url(
                    input.url, allow_private=setup.policy.allow_private_urls
                )

        async def action(session: AsyncSession, viewer: Viewer) -> UpdateWebhookEndpointPayload:
            row = await service.update_endpoint(
                session,
                viewer,
                str(input.id),
                url=checked[0],
                events=input.events,
                description=input.description,
                enabled=input.enabled,
            )
            return UpdateWebhookEndpointPayload(webhook_endpoint=WebhookEndpoint.from_row(row))

        return await run_mutation(
            info,
            name="updateWebhookEndpoint",
            input=input,
            payload=UpdateWebhookEndpointPayload,
            action=action,
            prepare=prepare,
        )

    @strawberry.mutation(
        description="A new signing secret, shown once; the old one also signs for 24 hours."
    )
    async def rotate_webhook_endpoint_secret(
        self, info: Info, input: RotateWebhookEndpointSecretInput
    ) -> RotateWebhookEndpointSecretPayload:
        setup = _setup(info)

        async def action(
            session: AsyncSession, viewer: Viewer
        ) -> RotateWebhookEndpointSecretPayload:
            rotated = await service.rotate_secret(
                session, viewer, setup.box, setup.policy, str(input.id)
            )
            payload = RotateWebhookEndpointSecretPayload(
                webhook_endpoint=WebhookEndpoint.from_row(rotated.endpoint)
            )
            payload.revealed_secret = rotated.secret
            return payload

        return await run_mutation(
            info,
            name="rotateWebhookEndpointSecret",
            input=input,
            payload=RotateWebhookEndpointSecretPayload,
            action=action,
        )

    @strawberry.mutation(description="Delete an endpoint with its delivery history.")
    async def delete_webhook_endpoint(
        self, info: Info, input: DeleteWebhookEndpointInput
    ) -> DeleteWebhookEndpointPayload:
        async def action(session: AsyncSession, viewer: Viewer) -> DeleteWebhookEndpointPayload:
            deleted = await service.delete_endpoint(session, viewer, str(input.id))
            return DeleteWebhookEndpointPayload(deleted_id=strawberry.ID(deleted))

        return await run_mutation(
            info,
            name="deleteWebhookEndpoint",
            input=input,
            payload=DeleteWebhookEndpointPayload,
            action=action,
        )

    @strawberry.mutation(description="Send a webhook.test event to one endpoint.")
    async def send_test_webhook(
        self, info: Info, input: SendTestWebhookInput
    ) -> SendTestWebhookPayload:
        async def action(session: AsyncSession, viewer: Viewer) -> SendTestWebhookPayload:
            view = await service.send_test(session, viewer, str(input.endpoint_id))
            return SendTestWebhookPayload(delivery=WebhookDelivery.from_view(view))

        return await run_mutation(
            info,
            name="sendTestWebhook",
            input=input,
            payload=SendTestWebhookPayload,
            action=action,
        )

    @strawberry.mutation(description="Send a delivery's event again (same id, same body).")
    async def redeliver_webhook(
        self, info: Info, input: RedeliverWebhookInput
    ) -> RedeliverWebhookPayload:
        async def action(session: AsyncSession, viewer: Viewer) -> RedeliverWebhookPayload:
            view = await service.redeliver(session, viewer, str(input.delivery_id))
            return RedeliverWebhookPayload(delivery=WebhookDelivery.from_view(view))

        return await run_mutation(
            info,
            name="redeliverWebhook",
            input=input,
            payload=RedeliverWebhookPayload,
            action=action,
        )
