"""``webhookEndpoints``, ``webhookEndpoint(id)``, ``webhookDeliveries`` and the ``we`` /
``whd`` nodes."""

from __future__ import annotations

import strawberry

from models.webhook_endpoint import WebhookDeliveryStatus
from resolvers.auth import require_viewer
from resolvers.context import Info
from resolvers.node import Node
from resolvers.pagination import Connection, page_request_errors, to_connection
from resolvers.webhook_endpoints.types import (
    WebhookDelivery,
    WebhookDeliveryStatusEnum,
    WebhookEndpoint,
)
from services.organizations.api_keys import Viewer
from services.webhook_endpoints import service


@strawberry.type
class WebhookEndpointQuery:
    @strawberry.field(description="Your webhook endpoints in this mode, newest first.")
    async def webhook_endpoints(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[WebhookEndpoint]:
        viewer = require_viewer(info)
        with page_request_errors():
            async with info.context.db.read() as session:
                page = await service.list_endpoints(session, viewer, first=first, after=after)
        return to_connection(page, WebhookEndpoint.from_row)

    @strawberry.field(description="One of your webhook endpoints; null when unknown or not yours.")
    async def webhook_endpoint(self, info: Info, id: strawberry.ID) -> WebhookEndpoint | None:
        viewer = require_viewer(info)
        async with info.context.db.read() as session:
            row = await service.get_endpoint(session, viewer, str(id))
        return WebhookEndpoint.from_row(row) if row is not None else None

    @strawberry.field(description="Deliveries of your events, newest first, with their attempts.")
    async def webhook_deliveries(
        self,
        info: Info,
        endpoint_id: strawberry.ID | None = None,
        status: WebhookDeliveryStatusEnum | None = None,  # type: ignore[valid-type]
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[WebhookDelivery]:
        viewer = require_viewer(info)
        wanted = WebhookDeliveryStatus(status.value) if status is not None else None
        with page_request_errors():
            async with info.context.db.read() as session:
                page = await service.list_deliveries(
                    session,
                    viewer,
                    endpoint_id=str(endpoint_id) if endpoint_id is not None else None,
                    status=wanted,
                    first=first,
                    after=after,
                )
        return to_connection(page, WebhookDelivery.from_view)


async def load_webhook_endpoint(info: Info, viewer: Viewer, node_id: str) -> Node | None:
    async with info.context.db.read() as session:
        row = await service.get_endpoint(session, viewer, node_id)
    return WebhookEndpoint.from_row(row) if row is not None else None


async def load_webhook_delivery(info: Info, viewer: Viewer, node_id: str) -> Node | None:
    async with info.context.db.read() as session:
        view = await service.get_delivery(session, viewer, node_id)
    return WebhookDelivery.from_view(view) if view is not None else None
