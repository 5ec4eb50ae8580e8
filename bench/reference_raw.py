"""Case 1's reference: the stack's ceiling, a bare Starlette route answering the same JSON as
``{ viewer { livemode } }`` for a test key (no GraphQL, no auth, no database)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

VIEWER_LIVEMODE = {"data": {"viewer": {"livemode": False}}}


async def graphql(request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse(VIEWER_LIVEMODE)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/graphql", graphql, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
)
