"""``AppServices``: everything the edges (GraphQL, webhooks, jobs, CLI) hand to the services.

Built once per process by the composition root (``api.composition``) and carried in each
request's context; typed, so a missing dependency is a type error, not a ``KeyError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from providers.registry import ProviderRegistry
from services.client_sessions.service import ClientSessions
from services.idempotency import STALE_CLAIM
from services.infra.database import Database
from services.infra.event_bus import LiveBus
from services.infra.faults import NO_FAULTS, Faults
from services.payout_accounts.documents import DocumentFetcher
from services.payouts.service import PayoutPolicy
from services.webhook_endpoints.setup import WebhookEndpoints


@dataclass
class AppServices:
    database: Database
    providers: ProviderRegistry
    # The server's secret: keys idempotency fingerprints and stored sensitive values.
    secret_key: str
    # Client sessions for frontend apps: minting, checking, revocations (SPEC §3.12).
    client_sessions: ClientSessions
    payout_policy: PayoutPolicy = field(default_factory=PayoutPolicy)
    # An idempotency claim older than this belongs to a request whose process died.
    idempotency_stale_claim: timedelta = STALE_CLAIM
    # Test-only crash points (``services.infra.faults``); none armed in production.
    faults: Faults = NO_FAULTS
    document_fetcher: DocumentFetcher = field(default_factory=DocumentFetcher)
    # The live event bus once started (``None`` in processes without live subscribers).
    bus: LiveBus | None = None
    # Outbound webhooks: their policy and the box that seals signing secrets (``None`` only in
    # processes that never touch endpoints).
    webhook_endpoints: WebhookEndpoints | None = None
    # The per-API-key rate limiter of the GraphQL edge (an ``api.rate_limit.RateLimiter``).
    rate_limiter: object | None = None
