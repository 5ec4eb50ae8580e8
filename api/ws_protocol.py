"""graphql-transport-ws as strawberry speaks it, with clearer answers to clients.

- An authentication failure closes with 4403 and a reason that says what is wrong (strawberry
  sends only "Forbidden"), so GraphiQL and other clients can show it.
- A ``subscribe`` whose ``payload`` is not an object with a string ``query`` closes with 4400
  (strawberry's handler crashed on it and the socket dropped with 1006).
- The per-connection operation limit answers an ``error`` message with ``extensions.code``.
- A ``next`` message whose result is shared by several subscribers (``api.execution``) is sent
  as the shared payload's JSON text behind this operation's id: the same text the message
  would encode to, encoded once per event instead of once per socket.
"""

from __future__ import annotations

from typing import Any

from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
    SubscribeMessage,
)
from strawberry.types.unset import UnsetType

from api.client_errors import dependency_down
from api.execution import SharedData
from api.outage import is_database_unavailable
from api.ws_revocation import REVOKED_REASON
from resolvers.context import Context

AUTH_CLOSE_CODE = 4403
DEFAULT_AUTH_REASON = "Forbidden: connection_init needs a valid API key (payload x-api-key)"
UNAVAILABLE_REASON = "Service temporarily unavailable; retry shortly"
_MAX_REASON_BYTES = 123  # a WebSocket close reason must fit in a control frame


def close_reason(text: str) -> str:
    encoded = text.encode()[:_MAX_REASON_BYTES]
    return encoded.decode(errors="ignore")


def rejection_reason(error: ConnectionRejectionError) -> str:
    payload: Any = error.payload
    if isinstance(payload, dict) and isinstance(payload.get("message"), str):
        return close_reason(f"Forbidden: {payload['message']}")
    return DEFAULT_AUTH_REASON


class PayoutsTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        payload = message.get("payload", {})
        if (
            self.connection_timed_out
            or not isinstance(payload, dict)
            or self.connection_init_received
        ):
            await super().handle_connection_init(message)  # strawberry's own answers
            return
        if self.connection_init_timeout_task:
            self.connection_init_timeout_task.cancel()
        self.connection_init_received = True
        self.context.connection_params = payload
        try:
            ack_payload = await self.view.on_ws_connect(self.context)
        except ConnectionRejectionError as error:
            await self.websocket.close(code=AUTH_CLOSE_CODE, reason=rejection_reason(error))
            return
        except Exception as error:  # the key lookup failed: the client may retry later
            if not is_database_unavailable(error):
                raise
            dependency_down("database unavailable", "while authenticating a WebSocket")
            await self.websocket.close(code=1011, reason=UNAVAILABLE_REASON)
            return
        viewer = self.context.viewer
        watcher = getattr(self.view, "open_connections", None)
        if viewer is not None and watcher is not None:
            self._watched_key = viewer.api_key_id
            watcher.add(viewer.api_key_id, self)
        if isinstance(ack_payload, UnsetType):
            await self.send_message({"type": "connection_ack"})
        else:
            await self.send_message({"type": "connection_ack", "payload": ack_payload})
        self.connection_acknowledged = True

    _watched_key: str | None = None

    async def close_for_revocation(self) -> None:
        await self.websocket.close(code=AUTH_CLOSE_CODE, reason=REVOKED_REASON)

    async def shutdown(self) -> None:
        watcher = getattr(self.view, "open_connections", None)
        if self._watched_key is not None and watcher is not None:
            watcher.discard(self._watched_key, self)
        await super().shutdown()

    async def send_message(self, message: Message) -> None:
        frame = self._shared_frame(message)
        websocket = self.websocket
        if frame is None or not isinstance(websocket, ASGIWebSocketAdapter):
            await super().send_message(message)
            return
        try:
            await websocket.ws.send_text(frame)
        except WebSocketDisconnect as exc:  # as strawberry's adapter answers it
            raise WebSocketDisconnected from exc

    def _shared_frame(self, message: Message) -> str | None:
        """The text of a ``next`` message carrying only shared data, or ``None``.

        ``{"id":…,"type":"next","payload":{"data":…}}`` is what the view's encoder makes of
        the message; the id, a string chosen by the client, is encoded by that encoder too."""
        if message["type"] != "next":
            return None
        payload: Any = message["payload"]
        data = payload.get("data")
        if type(data) is not SharedData or len(payload) != 1:
            return None  # errors or extensions: this subscriber's own message
        encode = self.view.encode_json
        shared = data.payload_text(encode)
        operation_id = encode(message["id"])
        if shared is None or not isinstance(operation_id, str):
            return None
        return f'{{"id":{operation_id},"type":"next","payload":{shared}}}'

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if not self.connection_acknowledged:
            await super().handle_subscribe(message)  # 4401
            return
        problem = _subscribe_problem(message)
        if problem is not None:
            await self.websocket.close(code=4400, reason=problem)
            return
        limit = self.max_subscriptions_per_connection
        if (
            message["id"] not in self.operations
            and limit is not None
            and len(self.operations) >= limit
        ):
            await self.send_message(
                {
                    "id": message["id"],
                    "type": "error",
                    "payload": [
                        {
                            "message": f"Subscription limit reached: at most {limit} "
                            "operations at once on one connection",
                            "extensions": {"code": "RATE_LIMITED", "limit": limit},
                        }
                    ],
                }
            )
            return
        await super().handle_subscribe(message)


def _subscribe_problem(message: Any) -> str | None:
    if not isinstance(message.get("id"), str) or not message["id"]:
        return "Invalid subscribe message: `id` must be a non-empty string"
    payload = message.get("payload")
    if not isinstance(payload, dict):
        return "Invalid subscribe message: `payload` must be an object"
    if not isinstance(payload.get("query"), str):
        return "Invalid subscribe message: `payload.query` must be a string"
    if not isinstance(payload.get("variables"), dict | None):
        return "Invalid subscribe message: `payload.variables` must be an object or null"
    if not isinstance(payload.get("operationName"), str | None):
        return "Invalid subscribe message: `payload.operationName` must be a string or null"
    if not isinstance(payload.get("extensions"), dict | None):
        return "Invalid subscribe message: `payload.extensions` must be an object or null"
    return None
