"""The strawberry ASGI view: builds the context, authenticates WebSockets, encodes JSON."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import orjson
import strawberry
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.http.async_base_view import AsyncHTTPRequestAdapter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from api.auth import Authenticator, key_from_connection_params, key_from_headers
from api.graphiql import render_page
from api.middleware import request_id_of
from api.settings import Settings
from api.trusted_documents import DOCUMENT_ID_KEY
from api.ws_sessions import TrustedDocumentsWSHandler, stop_watching, watch_session
from resolvers.context import Context
from services.app_services import AppServices
from services.infra.database import Database


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

    async def render_graphql_ide(self, request: Request) -> Response:
        # Our own page with local assets (strawberry's template loads them from a CDN).
        return render_page(request)

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
        context.viewer = await self.authenticate(key_from_headers(request.headers))
        context.idempotency_key_header = request.headers.get("idempotency-key")
        return context

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        key = key_from_connection_params(context.connection_params)
        if key is None and isinstance(context.request, WebSocket):
            key = key_from_headers(context.request.headers)
        viewer = await self.authenticate(key)
        if viewer is None:
            raise ConnectionRejectionError(
                {"code": "UNAUTHENTICATED", "message": "connection_init needs a valid x-api-key"}
            )
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
        data = await super().parse_http_body(request)
        if isinstance(data, GraphQLRequestData):
            document_id = await _document_id(request)
            if document_id is not None:
                # The schema's TrustedDocumentGate reads it with Apollo's persistedQuery.
                data.extensions = {**(data.extensions or {}), DOCUMENT_ID_KEY: document_id}
        return data

    def encode_json(self, data: object) -> str:
        # Text, not bytes: graphql-transport-ws messages must be text frames.
        return orjson.dumps(data).decode()


async def _document_id(request: AsyncHTTPRequestAdapter) -> object:
    """``documentId`` of a GET query string or a JSON body (GraphQL over HTTP's persisted
    documents); strawberry's parser drops the member."""
    if request.method == "GET":
        return request.query_params.get(DOCUMENT_ID_KEY)
    body = await request.get_body()  # read once already; starlette keeps it
    if b'"documentId"' not in (body if isinstance(body, bytes) else body.encode()):
        return None
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return parsed.get(DOCUMENT_ID_KEY) if isinstance(parsed, dict) else None
