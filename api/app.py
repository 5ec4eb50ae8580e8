"""Composition root: settings → database → schema → Starlette app with its routes."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import sqlalchemy as sa
import strawberry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from api import rest
from api.auth import Authenticator
from api.bus import build_event_bus, start_event_bus
from api.composition import build_services
from api.graphiql import ASSETS_PATH, serve_asset
from api.graphql_view import PayoutsGraphQL
from api.jobs import start_payout_jobs
from api.lean_pool import LeanPool
from api.logging import configure_logging
from api.loop_lag import GC_THRESHOLDS, start_loop_lag_monitor
from api.metrics import RequestObserver, metrics_endpoint
from api.middleware import BodyLimitMiddleware, RequestIdMiddleware
from api.migrations import head_revision
from api.providers import start_providers
from api.rate_limit import build_rate_limiter
from api.schema import build_schema, load_trusted_documents
from api.settings import DEV_CLIENT_SESSION_SECRET, Settings
from api.trusted_documents import TrustedDocuments
from api.webhook_deliverer import start_webhook_deliverer
from api.webhooks import WebhookLane, receive_webhook
from services.client_sessions.revocations import RevocationFeed
from services.infra.database import Database
from services.infra.event_bus import PostgresBus
from services.provider_events.pending_batch import PendingBatcher

log = logging.getLogger(__name__)

# Components started with the app and stopped with it (bus listeners, job runners...).
Startable = Callable[["AppState"], Awaitable[Callable[[], Awaitable[None]] | None]]
STARTUP_HOOKS: list[Startable] = [
    start_event_bus,
    start_payout_jobs,
    start_loop_lag_monitor,
    start_webhook_deliverer,
]


class ConfigurationError(ValueError):
    """Settings this server must not start with."""


def check_production_secrets(settings: Settings) -> None:
    production = not settings.is_sqlite or settings.live_provider_name != "none"
    if production and settings.client_session_secret == DEV_CLIENT_SESSION_SECRET:
        raise ConfigurationError(
            "PAYOUTS_CLIENT_SESSION_SECRET is the development default; set a secret of at "
            "least 32 bytes, the same in every server process"
        )


def build_graphql_schema(settings: Settings) -> tuple[strawberry.Schema, TrustedDocuments]:
    """The schema and its trusted documents, loaded and checked (``ManifestError`` otherwise)."""
    documents = TrustedDocuments()
    schema = build_schema(settings, documents)
    load_trusted_documents(settings, schema, documents)
    return schema, documents


class AppState:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.services = build_services(settings, db)
        self.providers = self.services.providers
        # PostgreSQL: events about objects not stored yet, stored in batches (api/webhooks.py).
        self.pending_events = (
            None
            if db.statement_pool is None
            else PendingBatcher(db.statement_pool, max_in_flight=settings.db_pool_size)
        )
        self.head_revision = head_revision()


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    check_production_secrets(settings)
    configure_logging(
        settings.log_level,
        fmt=settings.log_format,
        secrets=[
            settings.secret_key,
            settings.sandbox_webhook_secret,
            settings.client_session_secret,
            *([settings.stripe_secret_key] if settings.stripe_secret_key else []),
            *settings.stripe_webhook_secrets,
        ],
    )
    db = Database(settings.database_url, echo=settings.sql_echo, pool_size=settings.db_pool_size)
    # Installed now so that even events committed before the listener starts are announced.
    bus = db.bus = build_event_bus(settings)
    state = AppState(settings, db)
    lean_pool = None if db.is_sqlite else LeanPool(db)  # key lookups and rate limit buckets
    rate_limiter = state.services.rate_limiter = build_rate_limiter(settings, db, lean_pool)
    # Revocations reach this process with every committed event, on every bus.
    feed = RevocationFeed(state.services.client_sessions.revocations, db.read)
    bus.hub.observers.append(feed.observe_event)
    bus.hub.resync_observers.append(feed.resync)
    authenticator = Authenticator(
        db,
        lean_pool,
        revocations=db.bus if isinstance(db.bus, PostgresBus) else None,
        cache_seconds=settings.api_key_cache_seconds,
        cache_size=settings.api_key_cache_size,
        client_sessions=state.services.client_sessions,
    )
    schema, _documents = build_graphql_schema(settings)
    graphql = PayoutsGraphQL(
        schema,
        settings=settings,
        db=db,
        authenticator=authenticator,
        services=state.services,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await feed.reload()  # before serving: tokens revoked earlier stay refused
        stops = [await start_providers(state.providers, db), await graphql.open_connections.start()]
        for hook in STARTUP_HOOKS:
            stop = await hook(state)
            if stop is not None:
                stops.append(stop)
        # Everything built so far lives for the whole process: keep it out of GC passes.
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        try:
            yield
        finally:
            for stop in reversed(stops):
                await stop()
            if rate_limiter is not None:
                await rate_limiter.close()
            await authenticator.dispose()
            if lean_pool is not None:
                await lean_pool.close()
            await db.dispose()

    routes: list[BaseRoute] = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/graphql/", to_graphql, methods=["GET", "POST"]),
        Route("/webhooks/{provider}", receive_webhook, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        rest.mount(
            services=state.services, authenticate=authenticator.keys_only, rate_limiter=rate_limiter
        ),
    ]
    if settings.graphiql:
        routes.append(Route(ASSETS_PATH + "/{name}", serve_asset, methods=["GET"]))
    if settings.metrics_enabled:
        routes.append(Route("/metrics", metrics_endpoint(settings.metrics_token), methods=["GET"]))
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(RequestObserver),
            Middleware(
                BodyLimitMiddleware,
                max_bytes=settings.max_query_bytes,
                timeout_seconds=settings.request_body_timeout_seconds,
            ),
            Middleware(WebhookLane),
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_credentials=False,
                allow_methods=["GET", "POST"],
                allow_headers=["content-type", "x-api-key", "authorization", "idempotency-key"],
                expose_headers=["x-request-id", "retry-after"],
            ),
        ],
    )
    # Starlette's trailing-slash redirect builds its Location from the client's Host header.
    app.router.redirect_slashes = False
    app.state.payouts = state
    return app


async def to_graphql(request: Request) -> Response:
    """``/graphql/`` → ``/graphql``: a relative Location (never built from the Host header);
    308 keeps the method and body of a POST."""
    query = request.url.query
    return Response(
        status_code=308, headers={"location": "/graphql" + (f"?{query}" if query else "")}
    )


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    state: AppState = request.app.state.payouts
    try:
        async with state.db.read() as session:
            await session.execute(sa.text("SELECT 1"))
    except Exception as exc:
        log.warning("readiness check failed: %s", type(exc).__name__)
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    current = await _current_revision(state)
    if current != state.head_revision:
        return JSONResponse(
            {
                "status": "unavailable",
                "database": "migrations pending",
                "migrations": {"current": current, "head": state.head_revision},
            },
            status_code=503,
        )
    return JSONResponse({"status": "ok", "migrations": {"current": current}})


async def _current_revision(state: AppState) -> str | None:
    """The database's Alembic revision; None when it has none (no migrations applied yet)."""
    try:
        async with state.db.read() as session:
            return (
                await session.execute(sa.text("SELECT version_num FROM alembic_version"))
            ).scalar_one_or_none()
    except sa.exc.DBAPIError:  # the database answered: there is no alembic_version table
        return None
