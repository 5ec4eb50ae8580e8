"""Case 5's reference: a bare Starlette WebSocket broadcast. Clients connect to ``/ws``; each
``POST /publish`` sends its body, as one text frame, to every connected socket — the same bytes
the real server sends for a ``payoutUpdated`` event (a graphql-transport-ws ``next`` message).
Run: ``uvicorn bench.reference_ws:app``.
"""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

SUBSCRIBERS: set[WebSocket] = set()


async def subscribe(websocket: WebSocket) -> None:
    await websocket.accept()
    SUBSCRIBERS.add(websocket)
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        pass
    finally:
        SUBSCRIBERS.discard(websocket)


async def publish(request: Request) -> JSONResponse:
    message = (await request.body()).decode()
    targets = list(SUBSCRIBERS)
    results = await asyncio.gather(
        *(ws.send_text(message) for ws in targets), return_exceptions=True
    )
    failed = sum(isinstance(result, Exception) for result in results)
    return JSONResponse({"sent": len(targets) - failed, "failed": failed})


async def count(request: Request) -> JSONResponse:
    return JSONResponse({"subscribers": len(SUBSCRIBERS)})


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        WebSocketRoute("/ws", subscribe),
        Route("/publish", publish, methods=["POST"]),
        Route("/subscribers", count, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
)
