"""Provider wiring: the registry from settings, the sandbox's deliverer, the pending sweep."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from api.settings import Settings
from providers.registry import ProviderRegistry
from providers.sandbox import SandboxConfig, SandboxProvider
from providers.stripe import StripeConfig, StripeProvider
from services import idempotency
from services.infra.database import Database
from services.provider_events import ingest as webhooks

log = logging.getLogger(__name__)
SWEEP_SECONDS = 1.0
PRUNE_SECONDS = 600.0


def build_registry(settings: Settings, db: Database) -> ProviderRegistry:
    stripe = _stripe(settings)
    sandbox = SandboxProvider(
        db,
        SandboxConfig(
            webhook_url=f"{settings.webhook_base_url}/webhooks/sandbox",
            webhook_secret=settings.sandbox_webhook_secret,
            delay_seconds=settings.sandbox_delay_seconds,
            refuse_transfers=settings.sandbox_refuse_transfers,
            delivery_lease_seconds=settings.sandbox_delivery_lease_seconds,
        ),
        is_postgres=not db.is_sqlite,
    )
    return ProviderRegistry(
        sandbox,
        live=stripe if settings.live_provider_name == "stripe" else None,
        test=stripe if settings.test_provider == "stripe" else None,
    )


def _stripe(settings: Settings) -> StripeProvider | None:
    if not settings.stripe_secret_key or "stripe" not in (
        settings.live_provider_name,
        settings.test_provider,
    ):
        return None
    return StripeProvider(
        StripeConfig(
            secret_key=settings.stripe_secret_key,
            webhook_secrets=settings.stripe_webhook_secrets,
            api_base=settings.stripe_api_base,
        )
    )


async def start_providers(
    registry: ProviderRegistry, db: Database
) -> Callable[[], Awaitable[None]]:
    await registry.sandbox.deliverer.start()
    sweeper = asyncio.create_task(_sweep_pending(db), name="pending-webhook-sweeper")
    pruner = asyncio.create_task(_prune_idempotency(db), name="idempotency-pruner")

    async def stop() -> None:
        sweeper.cancel()
        pruner.cancel()
        await asyncio.gather(sweeper, pruner, return_exceptions=True)
        await registry.sandbox.deliverer.stop()

    return stop


async def _sweep_pending(db: Database) -> None:
    """Safety net for events that arrived before their object was committed."""
    while True:
        await asyncio.sleep(SWEEP_SECONDS)
        try:
            async with db.read() as session:
                pending = await webhooks.pending_objects(session)
            for provider, kind, object_id in pending:
                async with db.transaction() as session:
                    await webhooks.apply_pending_for(session, provider, kind, object_id)
        except Exception:
            log.exception("pending webhook sweep failed")


async def _prune_idempotency(db: Database) -> None:
    """Idempotency keys are kept 24 h (claims treat older ones as new); drop them afterwards."""
    while True:
        try:
            async with db.transaction() as session:
                removed = await idempotency.prune(session)
            if removed:
                log.info("pruned %d expired idempotency keys", removed)
        except Exception:
            log.exception("idempotency pruning failed")
        await asyncio.sleep(PRUNE_SECONDS)
