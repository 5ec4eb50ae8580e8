"""Case 6's merchant: a bare Starlette receiver that answers every webhook POST with 200 at
once and counts them (``GET /count``)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

received = {"count": 0}


async def hook(request: Request) -> PlainTextResponse:
    await request.body()
    received["count"] += 1
    return PlainTextResponse("ok")


async def count(request: Request) -> JSONResponse:
    return JSONResponse(received)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/hook", hook, methods=["POST"]),
        Route("/count", count, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
)
