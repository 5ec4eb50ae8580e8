"""Starts the outbound webhook deliverer with the app (every server process runs one)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from api.metrics import OutboundWebhookObserver
from services.webhook_endpoints.deliverer import Deliverer
from services.webhook_endpoints.transport import WebhookTransport

if TYPE_CHECKING:
    from api.app import AppState


async def start_webhook_deliverer(state: AppState) -> Callable[[], Awaitable[None]] | None:
    if not state.settings.webhook_deliverer_enabled:
        return None
    setup = state.services.webhook_endpoints
    if setup is None:
        return None
    policy = setup.policy
    transport = WebhookTransport(
        allow_private=policy.allow_private_urls,
        timeout_seconds=policy.timeout_seconds,
        max_connections=policy.concurrency,
    )
    deliverer = Deliverer(state.db, setup.box, transport, policy, OutboundWebhookObserver())
    task = asyncio.create_task(deliverer.run(), name="webhook-deliverer")

    async def stop() -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await transport.close()

    return stop
