"""Prometheus metrics, the per-request log line and the log context of each operation.

Labels never carry tenant data: no organization ids, no client-chosen operation names, no
paths with ids. Operations are labelled by their type and root field (a schema name), errors by
their code from a fixed list, HTTP requests by route template.

Hooks for other components: ``subscription_opened``/``subscription_closed`` (the
``OperationObserver`` extension already calls them for every subscription operation),
``set_reconciler_backlog(n)`` and the webhook lag histogram (registered on
``services.provider_events.ingest.LAG_OBSERVERS``).
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from api import rate_limit
from api.cost import select_operation
from api.errors import error_code, is_unexpected
from api.logging import LogContext, request_log_context
from api.middleware import request_id_of
from services.infra import mailbox
from services.provider_events import ingest as webhooks

access_log = logging.getLogger("payouts.access")

KNOWN_CODES = frozenset(
    {"UNAUTHENTICATED", "RATE_LIMITED", "QUERY_TOO_COMPLEX", "BAD_USER_INPUT", "INTERNAL"}
)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

GRAPHQL_REQUESTS = Counter(
    "payouts_graphql_operations_total",
    "GraphQL operations executed, by operation type and root field",
    ["operation_type", "operation"],
)
GRAPHQL_LATENCY = Histogram(
    "payouts_graphql_operation_duration_seconds",
    "GraphQL operation latency (subscriptions: until their first result is ready)",
    ["operation_type", "operation"],
    buckets=LATENCY_BUCKETS,
)
GRAPHQL_ERRORS = Counter(
    "payouts_graphql_errors_total", "Top-level GraphQL errors by extensions.code", ["code"]
)
HTTP_REQUESTS = Counter(
    "payouts_http_requests_total",
    "HTTP requests by route and status",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "payouts_http_request_duration_seconds",
    "HTTP request latency by route",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
WEBHOOK_LAG = Histogram(
    "payouts_webhook_apply_lag_seconds",
    "Time from receiving a provider webhook to applying it",
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 900.0, 3600.0),
)
OPEN_SUBSCRIPTIONS = Gauge(
    "payouts_open_subscriptions",
    "GraphQL subscriptions currently open",
    multiprocess_mode="livesum",
)
RECONCILER_BACKLOG = Gauge(
    "payouts_reconciler_backlog",
    "Items the reconciler still has to look at (payouts in flight past their deadline, ...)",
    multiprocess_mode="mostrecent",
)
RATE_LIMIT_STORE_FAILURES = Counter(
    "payouts_rate_limit_store_failures_total",
    "Rate limit checks let through because the bucket store failed",
    ["backend"],
)
LIVE_MAILBOX_PEAK = Gauge(
    "payouts_live_mailbox_peak_events",
    "The most events any subscriber's mailbox has held at once (bounded by its capacity)",
    multiprocess_mode="max",
)
LIVE_MAILBOX_OVERFLOWS = Counter(
    "payouts_live_mailbox_overflows_total",
    "Subscriber mailboxes that overflowed and were resynced from the event log",
)
OUTBOUND_WEBHOOK_ATTEMPTS = Counter(
    "payouts_outbound_webhook_attempts_total",
    "Outbound webhook delivery attempts by outcome (succeeded, retrying, failed = exhausted)",
    ["outcome"],
)
OUTBOUND_WEBHOOK_LATENCY = Histogram(
    "payouts_outbound_webhook_attempt_duration_seconds",
    "Duration of one outbound webhook attempt, until the answer or the error",
    buckets=LATENCY_BUCKETS,
)
OUTBOUND_WEBHOOK_QUEUE_AGE = Gauge(
    "payouts_outbound_webhook_queue_age_seconds",
    "How long the oldest due outbound webhook delivery has waited",
    multiprocess_mode="mostrecent",
)


class OutboundWebhookObserver:
    """The deliverer's metrics (``services.webhook_endpoints.deliverer.DeliveryObserver``)."""

    def attempt_finished(self, outcome: str, seconds: float) -> None:
        OUTBOUND_WEBHOOK_ATTEMPTS.labels(outcome).inc()
        OUTBOUND_WEBHOOK_LATENCY.observe(seconds)

    def queue_age(self, seconds: float) -> None:
        OUTBOUND_WEBHOOK_QUEUE_AGE.set(seconds)


class _PeakTracker:
    def __init__(self) -> None:
        self.peak = 0

    def observe(self, depth: int) -> None:
        if depth > self.peak:
            self.peak = depth
            LIVE_MAILBOX_PEAK.set(depth)


_MAILBOX_PEAK = _PeakTracker()
mailbox.PEAK_OBSERVERS.append(_MAILBOX_PEAK.observe)
mailbox.OVERFLOW_OBSERVERS.append(LIVE_MAILBOX_OVERFLOWS.inc)

if WEBHOOK_LAG.observe not in webhooks.LAG_OBSERVERS:
    webhooks.LAG_OBSERVERS.append(WEBHOOK_LAG.observe)
rate_limit.FAILURE_OBSERVERS.append(lambda backend: RATE_LIMIT_STORE_FAILURES.labels(backend).inc())


class _Children:
    """A labelled metric's children, remembered: ``.labels()`` validates and builds its key
    on every call. Label values come from fixed sets, so this stays small."""

    def __init__(self, metric: Any) -> None:
        self.metric = metric
        self.children: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self.children.get(values)
        if child is None:
            child = self.children[values] = self.metric.labels(*values)
        return child


_graphql_requests = _Children(GRAPHQL_REQUESTS)
_graphql_latency = _Children(GRAPHQL_LATENCY)
_graphql_errors = _Children(GRAPHQL_ERRORS)
_http_requests = _Children(HTTP_REQUESTS)
_http_latency = _Children(HTTP_LATENCY)


def subscription_opened() -> None:
    OPEN_SUBSCRIPTIONS.inc()


def subscription_closed() -> None:
    OPEN_SUBSCRIPTIONS.dec()


def set_reconciler_backlog(count: int) -> None:
    RECONCILER_BACKLOG.set(count)


def operation_label(operation: OperationDefinitionNode | None) -> tuple[str, str]:
    if operation is None:
        return "unknown", "unknown"
    fields = {
        s.name.value
        for s in operation.selection_set.selections
        if hasattr(s, "name") and s.kind == "field"
    }
    name = fields.pop() if len(fields) == 1 else ("multiple" if fields else "fragment")
    return operation.operation.value, name


def top_level_code(error: GraphQLError) -> str:
    code = (error.extensions or {}).get("code")
    if code is None:
        code = "INTERNAL" if is_unexpected(error) else error_code(error)
    return code if code in KNOWN_CODES else "OTHER"


class OperationObserver(SchemaExtension):
    """Labels the log context with the operation; counts, times and error-counts it."""

    def on_operation(self) -> Iterator[None]:
        # For a subscription this wraps its whole life (strawberry streams inside it).
        started = time.perf_counter()
        self._log_context = self._enter_log_context()
        self._subscription_open = False
        try:
            yield
        finally:
            if self._subscription_open:
                subscription_closed()
        context = self.execution_context
        document = context.graphql_document
        operation = select_operation(document, context.operation_name) if document else None
        kind, name = operation_label(operation)
        if kind != "subscription":
            _graphql_requests(kind, name).inc()
            _graphql_latency(kind, name).observe(time.perf_counter() - started)
        for error in getattr(context.result, "errors", None) or ():
            _graphql_errors(top_level_code(error)).inc()

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        operation = select_operation(document, context.operation_name) if document else None
        viewer = getattr(context.context, "viewer", None)
        if self._log_context is not None:
            if viewer is not None:
                self._log_context.organization_id = viewer.organization_id
            if operation is not None and operation.name is not None:
                self._log_context.operation = operation.name.value[:100]
        if context.operation_type.value == "subscription" and not self._subscription_open:
            _graphql_requests(*operation_label(operation)).inc()
            subscription_opened()
            self._subscription_open = True
        yield

    def _enter_log_context(self) -> LogContext | None:
        context = self.execution_context
        given = context.operation_name  # client input: any JSON value
        name = given[:100] if isinstance(given, str) and given else "anonymous"
        current = request_log_context.get()
        request = getattr(context.context, "request", None)
        if current is None or request is None or request.scope.get("type") == "websocket":
            # One WebSocket carries many operations: each gets its own context (in its task).
            current = LogContext(request_id=getattr(context.context, "request_id", None))
            request_log_context.set(current)
        current.operation = name
        return current


def route_label(path: str) -> str:
    if path in ("/graphql", "/healthz", "/readyz", "/metrics"):
        return path
    if path.startswith("/webhooks/"):
        return "/webhooks/{provider}"
    if path.startswith("/api/v1/"):
        return "/api/v1"  # the REST operation is in the log line's context
    return "other"


class RequestObserver:
    """Pure ASGI: sets the log context, logs one line per HTTP request, counts and times it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        context = LogContext(request_id=request_id_of(scope))
        token = request_log_context.set(context)
        started = time.perf_counter()
        status = 500
        route, method = route_label(scope["path"]), scope.get("method", "WS")

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            # A WebSocket has no ``http.response.start``: its frames go out unwrapped.
            await self.app(scope, receive, send if scope["type"] == "websocket" else observe)
        finally:
            elapsed = time.perf_counter() - started
            if scope["type"] == "http":
                _http_requests(route, method, str(status)).inc()
                _http_latency(route, method).observe(elapsed)
            if access_log.isEnabledFor(logging.INFO):  # the bench and many deployments: WARNING
                shown = status if scope["type"] == "http" else None  # a WebSocket: its lifetime
                access_log.info(
                    "%s %s %s",
                    method,
                    route,
                    shown if shown is not None else "closed",
                    extra={
                        "status": shown,
                        "duration_ms": round(elapsed * 1000, 2),
                        "route": route,
                    },
                )
            request_log_context.reset(token)


def metrics_registry() -> CollectorRegistry | None:
    """The multi-process collector when ``PROMETHEUS_MULTIPROC_DIR`` is set, else the default."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    registry = CollectorRegistry()
    prometheus_multiprocess.MultiProcessCollector(registry)
    return registry


def metrics_endpoint(token: str | None) -> Any:
    async def metrics(request: Request) -> Response:
        if token is not None:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return PlainTextResponse("metrics need a bearer token", status_code=401)
        registry = metrics_registry()
        body = generate_latest(registry) if registry is not None else generate_latest()
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return metrics
