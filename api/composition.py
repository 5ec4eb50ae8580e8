"""The composition root: settings → ``AppServices``, the one typed bundle every edge hands to
the services (database, providers, policies, test-only faults, bus and rate limiter once
started).

Everything else is wired by explicit tables, never by importing a module for its side effect:
- provider event kind → service that applies it: ``services/provider_events/handlers.py``
- node id prefix → loader: ``resolvers/node_query.py`` (``NODE_LOADERS``)
- GraphQL root types: ``api/schema.py`` (``QUERY_TYPES``, ``MUTATION_TYPES``, ...)
- background jobs and the event bus: ``api/app.py`` (``STARTUP_HOOKS``)
- CLI commands: ``api/cli.py`` (``commands()``)
"""

from __future__ import annotations

from datetime import timedelta

from api.jobs import payout_policy
from api.providers import build_registry
from api.settings import Settings
from services.app_services import AppServices
from services.client_sessions.service import ClientSessions
from services.client_sessions.tokens import ClientSessionSigner
from services.infra.database import Database
from services.infra.faults import FaultPoint, Faults
from services.webhook_endpoints.setup import WebhookEndpoints


def build_services(settings: Settings, db: Database) -> AppServices:
    return AppServices(
        database=db,
        providers=build_registry(settings, db),
        secret_key=settings.secret_key,
        client_sessions=ClientSessions(ClientSessionSigner(settings.client_session_secret)),
        payout_policy=payout_policy(settings),
        idempotency_stale_claim=timedelta(seconds=settings.idempotency_stale_claim_seconds),
        webhook_endpoints=WebhookEndpoints.build(settings.webhook_policy(), settings.secret_key),
        faults=Faults(
            frozenset({FaultPoint.AFTER_PAYOUT_COMMIT})
            if settings.fault_kill_after_payout_commit
            else frozenset()
        ),
    )
