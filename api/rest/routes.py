"""The route table of ``/api/v1``: every operation, the Starlette routes serving them and
(``api.rest.openapi``) the document describing them — one list, so they cannot drift."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from itertools import groupby

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.rest import errors, payouts, plan_groups, plans, webhooks
from api.rest.pipeline import Operation, RestEnv, error_response, serve
from api.rest.wire import json_response

OPERATIONS: list[Operation] = [
    *payouts.OPERATIONS,
    *plan_groups.OPERATIONS,
    *plans.OPERATIONS,
    *webhooks.OPERATIONS,
]
OPENAPI_PATH = "/openapi.json"


def _path_order(operation: Operation) -> tuple[int, str]:
    # A literal segment ("/plans/reorder") must be tried before a parameter ("/plans/{planId}").
    return (operation.path.count("{"), operation.path)


def build_routes(env: RestEnv, operations: list[Operation]) -> list[Route]:
    routes = []
    ordered = sorted(operations, key=_path_order)
    for path, group in groupby(ordered, key=lambda op: op.path):
        by_method = {method: op for op in group for method in op.methods}
        routes.append(Route(path, _endpoint(env, by_method), methods=sorted(by_method)))
    return routes


def _endpoint(
    env: RestEnv, by_method: dict[str, Operation]
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await serve(request, by_method[method], env)

    return endpoint


async def _http_error(request: Request, exc: Exception) -> Response:
    # Routing faults (unknown path, method not allowed) in the platform's envelope too.
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "").split(", ")
        return error_response(errors.method_not_allowed(a for a in allowed if a))
    return error_response(errors.not_found())


def build_app(env: RestEnv, document: Callable[[], dict[str, object]]) -> Starlette:
    async def openapi(request: Request) -> Response:
        return json_response(document())

    routes = [Route(OPENAPI_PATH, openapi, methods=["GET"]), *build_routes(env, OPERATIONS)]
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
