"""The strawberry ASGI view: builds the context, authenticates WebSockets, encodes JSON, and
answers every request-level failure as a GraphQL error document (never a plain-text 500)."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import orjson
import strawberry
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from api.auth import Authenticator, key_from_connection_params, key_from_headers
from api.client_errors import client_error, dependency_down
from api.errors import shape_error
from api.fast_path import VIEWER_STATE, FastPath
from api.graphiql import render_page
from api.graphql_http import (
    APPLICATION_JSON,
    GRAPHQL_RESPONSE_JSON,
    error_response,
    execution_started,
    response_media_type,
    status_for_unexecuted,
)
from api.middleware import BodyRefused, request_id_of
from api.outage import RETRY_AFTER_SECONDS, is_database_unavailable
from api.request_json import JsonTooDeep, decode_json
from api.schema import PayoutsSchema
from api.settings import Settings
from api.trusted_documents import DOCUMENT_ID_KEY
from api.ws_protocol import close_reason
from api.ws_revocation import OpenConnections
from api.ws_sessions import TrustedDocumentsWSHandler, stop_watching, watch_session
from resolvers.context import Context
from services.app_services import AppServices
from services.infra.database import Database

log = logging.getLogger(__name__)

SUBPROTOCOL_REFUSED = close_reason(
    "Subprotocol not acceptable: this server speaks graphql-transport-ws only"
)
_HTTP_OPERATIONS = {
    "GET": frozenset({OperationType.QUERY}),
    "POST": frozenset({OperationType.QUERY, OperationType.MUTATION}),
}


class _OurOriginSetting(logging.Filter):
    """strawberry's refusal of a WebSocket origin names its own parameter; ours is a setting."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "`allowed_origins`" in record.msg:
            record.msg = record.msg.replace(
                "`allowed_origins`", "PAYOUTS_CORS_ORIGINS (comma-separated origins)"
            )
        return True


logging.getLogger("strawberry.ws").addFilter(_OurOriginSetting())


class PayoutsGraphQL(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = TrustedDocumentsWSHandler

    def __init__(
        self,
        schema: strawberry.Schema,
        *,
        settings: Settings,
        db: Database,
        authenticator: Authenticator,
        services: AppServices,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=True,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds),
            max_subscriptions_per_connection=settings.ws_max_operations,
            allowed_origins=settings.cors_origins,
        )
        self.db = db
        self.authenticate = authenticator
        self.services = services
        self.max_json_depth = settings.max_json_depth
        self.open_connections = OpenConnections(db, settings.ws_revocation_check_seconds)
        self.fast_path = (
            FastPath(schema=schema, authenticate=authenticator, db=db, services=services)
            if isinstance(schema, PayoutsSchema) and hasattr(schema, "accepted_operations")
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            websocket = WebSocket(scope, receive=receive, send=send)
            if not await self._refused_subprotocol(websocket):
                await self.run(websocket)
            return
        request = Request(scope, receive=receive)
        try:
            fast = self.fast_path
            response = None if fast is None else await fast.serve(request)
            if response is None:
                response = await self.run(request)
        except HTTPException as error:
            client_error("graphql-request", error.reason, status=error.status_code)
            response = error_response(
                error.status_code,
                error.reason,
                media_type=response_media_type(request.headers),
                headers={"allow": "POST"} if error.status_code == 405 else None,
            )
        except BodyRefused:
            raise  # answered by BodyLimitMiddleware (413, 408)
        except ClientDisconnect:
            client_error("disconnect", "client went away before sending the whole body")
            return
        except Exception as error:
            response = self._fault_response(request, error)
        await response(scope, receive, send)

    def _fault_response(self, request: Request, error: Exception) -> Response:
        request_id = request_id_of(request.scope)
        media_type = response_media_type(request.headers)
        if is_database_unavailable(error):
            dependency_down(
                "database unavailable",
                f"{type(error).__name__} while serving a GraphQL request",
                request_id=request_id,
            )
            return error_response(
                503,
                "The service is temporarily unavailable; retry shortly.",
                media_type=media_type,
                code="INTERNAL",
                headers={"retry-after": str(RETRY_AFTER_SECONDS)},
                requestId=request_id,
            )
        log.error("unexpected error serving GraphQL (request %s)", request_id, exc_info=error)
        return error_response(
            500,
            "Internal server error. Quote the request id when contacting support.",
            media_type=media_type,
            code="INTERNAL",
            requestId=request_id,
        )

    async def _refused_subprotocol(self, websocket: WebSocket) -> bool:
        """A client offering only other subprotocols (the legacy ``graphql-ws`` of
        subscriptions-transport-ws) gets one of them selected and a 4406 close: accepting
        without a subprotocol makes browsers drop the socket before any close code is seen."""
        offered: list[str] = list(websocket.scope.get("subprotocols") or [])
        if not offered or GRAPHQL_TRANSPORT_WS_PROTOCOL in offered:
            return False
        if not self._check_websocket_origin(websocket):
            await self.reject_websocket(websocket)
            return True
        await websocket.accept(subprotocol=offered[0])
        await websocket.close(code=4406, reason=SUBPROTOCOL_REFUSED)
        return True

    async def render_graphql_ide(self, request: Request) -> Response:
        # Our own page with local assets (strawberry's template loads them from a CDN).
        return render_page(request)

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = response_media_type(request.headers)
        request.state.graphql_sub_response = sub_response
        return sub_response

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        context = Context(
            db=self.db,
            request_id=request_id_of(request.scope),
            request=request,
            response=response,
            services=self.services,
        )
        if isinstance(request, WebSocket):
            return context  # authenticated by on_ws_connect from connection_init
        authenticated = request.scope.get("state", {}).get(VIEWER_STATE)
        context.viewer = (
            authenticated[0]
            if authenticated is not None
            else await self.authenticate(key_from_headers(request.headers))
        )
        context.idempotency_key_header = request.headers.get("idempotency-key")
        return context

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        key = key_from_connection_params(context.connection_params)
        if key is None and isinstance(context.request, WebSocket):
            key = key_from_headers(context.request.headers)
        viewer = await self.authenticate(key)
        if viewer is None:
            message = (
                "the API key is not valid (unknown, revoked or mistyped)"
                if key
                else "connection_init needs a valid x-api-key"
            )
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED", "message": message})
        context.viewer = viewer
        if viewer.expires_at is not None and isinstance(context.request, WebSocket) and key:
            authenticate_session = self.authenticate.client_session_viewer
            watch_session(context.request, viewer, lambda: authenticate_session(key) is not None)
        return await super().on_ws_connect(context)

    async def run(
        self, request: Request | WebSocket, context: Any = UNSET, root_value: Any = UNSET
    ) -> Any:
        try:
            return await super().run(request, context, root_value)
        finally:
            if isinstance(request, WebSocket):
                stop_watching(request)

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        content_type, _ = parse_content_type(request.content_type or "")
        if request.method != "POST" or "application/json" not in content_type:
            parsed = await super().parse_http_body(request)
            if isinstance(parsed, GraphQLRequestData) and request.method == "GET":
                _fold_document_id(parsed, request.query_params.get(DOCUMENT_ID_KEY))
            return parsed
        data = self.parse_json(await request.get_body())
        if not isinstance(data, dict):
            raise HTTPException(
                400,
                'The request body must be a JSON object such as {"query": "{ viewer { livemode } }"}.',
            )
        request_data = GraphQLRequestData(
            query=_member(data, "query", str, "a string"),
            variables=_member(data, "variables", dict, "an object"),
            operation_name=_member(data, "operationName", str, "a string"),
            extensions=_member(data, "extensions", dict, "an object"),
            protocol="http",
        )
        _fold_document_id(request_data, data.get(DOCUMENT_ID_KEY))
        return request_data

    def parse_json(self, data: str | bytes) -> Any:
        try:
            return decode_json(data, max_depth=self.max_json_depth)
        except JsonTooDeep as error:
            raise HTTPException(400, f"{error.msg}.") from None
        except json.JSONDecodeError:
            raise HTTPException(400, "Unable to parse the request body as UTF-8 JSON.") from None

    def decode_json(self, data: str | bytes) -> object:
        return decode_json(data, max_depth=self.max_json_depth)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        # Subscriptions run over WebSocket only: strawberry would start one over POST and
        # resolve it as a plain field (an INTERNAL error).
        method = request_adapter.method
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=_HTTP_OPERATIONS.get(method, frozenset()),
                operation_extensions=request_data.extensions,
            )
        except CannotGetOperationTypeError as error:
            raise HTTPException(400, error.as_http_error_reason()) from error
        except InvalidOperationTypeError as error:
            if error.operation_type is OperationType.SUBSCRIPTION:
                raise HTTPException(
                    400,
                    "Subscriptions are not served over HTTP: open a WebSocket to this URL "
                    "with the graphql-transport-ws subprotocol.",
                ) from error
            raise HTTPException(405, error.as_http_error_reason(method)) from error
        except MissingQueryError as error:
            raise HTTPException(400, "No GraphQL query found in the request") from error

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if result.errors and any(not (e.extensions or {}).get("code") for e in result.errors):
            # Errors raised outside the operation hooks never met ErrorShaping.
            request_id = request_id_of(request.scope)
            result.errors = [shape_error(error, request_id) for error in result.errors]
        response = process_result(result)
        sub_response: Response | None = getattr(request.state, "graphql_sub_response", None)
        if (
            sub_response is not None
            and sub_response.media_type == GRAPHQL_RESPONSE_JSON
            and not execution_started(result.data, result.errors)
        ):
            response.pop("data", None)
            if sub_response.status_code is None:
                sub_response.status_code = status_for_unexecuted(result.errors or [])
        return response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        response.headers["content-type"] = sub_response.media_type or APPLICATION_JSON
        return response

    def encode_json(self, data: object) -> str:
        # Text, not bytes: graphql-transport-ws messages must be text frames.
        return orjson.dumps(data).decode()


def _member(data: dict[str, Any], name: str, kind: type, described: str) -> Any:
    value = data.get(name)
    if value is not None and not isinstance(value, kind):
        raise HTTPException(400, f"The request's `{name}` must be {described} or null.")
    return value


def _fold_document_id(data: GraphQLRequestData, document_id: object) -> None:
    """GraphQL over HTTP's persisted documents: ``documentId`` (JSON body or GET query string)
    travels on in the operation's extensions, where the schema's ``TrustedDocumentGate`` reads
    it beside Apollo's ``persistedQuery``."""
    if document_id is not None:
        data.extensions = {**(data.extensions or {}), DOCUMENT_ID_KEY: document_id}
