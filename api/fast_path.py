"""The HTTP fast path: a query or mutation the full pipeline has already accepted, from an authenticated
caller, runs on graphql-core directly, with error shaping, cost, rate limit, metrics and the
log context as plain calls (issue 16). strawberry's HTTP view and its extension runner cost
more than the whole operation for small queries.

It serves a request only when every check the full path runs before execution is known to
pass: a POST with a JSON object body, a credential that authenticates, a document resolved as
``TrustedDocumentGate`` would (trusted documents, their modes and refusals), that document,
operation name and client-session scopes recorded by ``GatedValidation`` (bounds, NUL checks,
scopes, validation all passed; queries and mutations), variables free of unstorable characters and a
cost within the maximum. Anything else returns None and takes the full path, which answers it
(with its own error) exactly as before. Responses are the full path's byte for byte (content
negotiation, status codes, ``extensions.cost``, shaped errors).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

import orjson
from graphql import ExecutionResult, GraphQLError, execute
from starlette.requests import Request
from starlette.responses import Response
from strawberry.execution import optimized_is_awaitable

from api.accepted_operations import Accepted, AcceptedOperations
from api.auth import key_from_headers
from api.cost import cached_query_cost, cost_report, rate_limited
from api.errors import shape_error
from api.execution import PayoutsExecutionContext
from api.extensions import unstorable_in
from api.graphql_http import (
    GRAPHQL_RESPONSE_JSON,
    execution_started,
    response_media_type,
    status_for_unexecuted,
)
from api.logging import LogContext, request_log_context
from api.metrics import (
    _graphql_errors,
    _graphql_latency,
    _graphql_requests,
    operation_label,
    top_level_code,
)
from api.middleware import request_id_of
from api.rate_limit import Decision, RateLimiter
from api.request_json import decode_json
from api.trusted_documents import (
    DOCUMENT_ID_KEY,
    TrustedDocuments,
    requested_reference,
    resolve_document,
)
from resolvers.context import Context
from services.app_services import AppServices
from services.infra.database import Database
from services.organizations.api_keys import Viewer

# The members of a request body the full path reads; any other member sends it there.
_MEMBERS = frozenset({"query", "variables", "operationName", "extensions", DOCUMENT_ID_KEY})
# Where the fast path leaves the viewer it authenticated, for the full path's context.
VIEWER_STATE = "payouts_fast_path_viewer"


class FastPath:
    def __init__(
        self,
        *,
        schema: Any,
        authenticate: Callable[[str | None], Awaitable[Viewer | None]],
        db: Database,
        services: AppServices,
    ) -> None:
        settings = schema.settings
        self.graphql_schema = schema._schema
        self.accepted: AcceptedOperations = schema.accepted_operations
        self.documents: TrustedDocuments = schema.trusted_documents
        self.authenticate = authenticate
        self.db = db
        self.services = services
        # Lookup only: the fast path serves accepted documents, which the cache keeps; parsing
        # here would parse a new or refused document twice (again on the full path).
        self.cached_document = schema.documents.cached
        self.max_tokens = settings.max_query_tokens
        self.max_json_depth = settings.max_json_depth
        self.max_cost = settings.max_query_cost
        self.default_page_size = settings.cost_default_page_size

    async def serve(self, request: Request) -> Response | None:
        """The response, or None: the full path must serve this request."""
        if request.method != "POST":
            return None
        headers = request.headers
        # A subset of what the full path reads as JSON, without its email-module parser.
        if (headers.get("content-type") or "").partition(";")[0].strip() != "application/json":
            return None
        key = key_from_headers(headers)
        if not key:
            return None
        try:
            data = decode_json(await request.body(), max_depth=self.max_json_depth)
        except ValueError:  # not JSON, too deep: the full path says which
            return None
        if not isinstance(data, dict) or not data.keys() <= _MEMBERS:
            return None
        query = data.get("query")
        variables = data.get("variables")
        operation_name = data.get("operationName")
        extensions = data.get("extensions")
        if not (
            (query is None or isinstance(query, str))
            and (variables is None or isinstance(variables, dict))
            and (operation_name is None or isinstance(operation_name, str))
            and (extensions is None or isinstance(extensions, dict))
        ):
            return None
        document_id = data.get(DOCUMENT_ID_KEY)
        if document_id is not None:
            extensions = {**(extensions or {}), DOCUMENT_ID_KEY: document_id}

        viewer = await self.authenticate(key)
        request.scope.setdefault("state", {})[VIEWER_STATE] = (viewer,)
        if viewer is None:
            return None
        refusal, query, document = resolve_document(
            self.documents, viewer, query, requested_reference(extensions)
        )
        if refusal is not None:
            return None
        if document is None:
            if not query:
                return None
            document = self.cached_document(query, max_tokens=self.max_tokens)
            if document is None:
                return None
        accepted = self.accepted.get(document, operation_name, viewer.scopes)
        if accepted is None or unstorable_in(variables) is not None:
            return None
        cost = cached_query_cost(
            self.graphql_schema,
            document,
            operation_name=accepted.operation_name,
            variables=variables,
            default_page_size=self.default_page_size,
        )
        if cost > self.max_cost:
            return None
        decision: Decision | None = None
        limiter = cast("RateLimiter | None", getattr(self.services, "rate_limiter", None))
        if limiter is not None:
            try:
                decision = await limiter.take(f"key:{viewer.api_key_id}", cost)
            except Exception:  # the full path answers it as it always has (shaped INTERNAL)
                return None
        return await self._run(request, viewer, accepted, variables, extensions, cost, decision)

    async def _run(
        self,
        request: Request,
        viewer: Viewer,
        accepted: Accepted,
        variables: dict[str, Any] | None,
        extensions: dict[str, Any] | None,
        cost: int,
        decision: Decision | None,
    ) -> Response:
        started = time.perf_counter()
        request_id = request_id_of(request.scope)
        _label_log_context(request_id, viewer, accepted)
        media_type = response_media_type(request.headers)
        sub_response = Response()
        sub_response.status_code = None  # type: ignore[assignment]
        del sub_response.headers["content-length"]
        sub_response.media_type = media_type
        if decision is not None and not decision.allowed:
            refusal, retry_after = rate_limited(cost, decision)
            sub_response.status_code = 429
            sub_response.headers["Retry-After"] = str(retry_after)
            result = ExecutionResult(data=None, errors=[refusal])
        else:
            context = Context(
                db=self.db,
                request_id=request_id,
                request=request,
                response=sub_response,
                services=self.services,
                viewer=viewer,
                idempotency_key_header=request.headers.get("idempotency-key"),
            )
            try:
                result = await self._execute(accepted, context, variables, extensions)
            except Exception as failure:  # as strawberry answers it: shaped (INTERNAL)
                coerced = (
                    failure
                    if isinstance(failure, GraphQLError)
                    else GraphQLError(str(failure), original_error=failure)
                )
                result = ExecutionResult(data=None, errors=[coerced])

        errors = [shape_error(raw, request_id) for raw in result.errors or ()]
        kind, name = operation_label(accepted.operation)
        _graphql_requests(kind, name).inc()
        _graphql_latency(kind, name).observe(time.perf_counter() - started)
        for shaped in errors:
            _graphql_errors(top_level_code(shaped)).inc()

        body: dict[str, Any] = {"data": result.data}
        if errors:
            body["errors"] = [shaped.formatted for shaped in errors]
        body["extensions"] = {"cost": cost_report(cost, self.max_cost, decision)}
        if media_type == GRAPHQL_RESPONSE_JSON and not execution_started(result.data, errors):
            body.pop("data", None)
            if sub_response.status_code is None:
                sub_response.status_code = status_for_unexecuted(errors)
        response = Response(
            orjson.dumps(body), status_code=sub_response.status_code or 200, media_type=media_type
        )
        response.headers.raw.extend(sub_response.headers.raw)
        if sub_response.background:
            response.background = sub_response.background
        return response

    async def _execute(
        self,
        accepted: Accepted,
        context: Context,
        variables: dict[str, Any] | None,
        extensions: dict[str, Any] | None,
    ) -> ExecutionResult:
        outcome: Any = execute(
            self.graphql_schema,
            accepted.document,
            root_value=None,
            variable_values=variables,
            operation_name=accepted.operation_name,
            context_value=context,
            is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]  # as strawberry passes it
            executor_class=PayoutsExecutionContext,
            operation_extensions=extensions,
        )
        return cast(
            "ExecutionResult", await outcome if optimized_is_awaitable(outcome) else outcome
        )


def _label_log_context(request_id: str, viewer: Viewer, accepted: Accepted) -> None:
    """What ``OperationObserver`` sets: the operation's name and the organization."""
    current = request_log_context.get()
    if current is None:
        current = LogContext(request_id=request_id)
        request_log_context.set(current)
    operation = accepted.operation
    given = accepted.operation_name
    name = given[:100] if given else "anonymous"
    if operation.name is not None:
        name = operation.name.value[:100]
    current.operation = name
    current.organization_id = viewer.organization_id
