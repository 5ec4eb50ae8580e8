"""One way to serve every REST operation, as ``resolvers/mutations.run_mutation`` does for
GraphQL: the same Authenticator, rate limiter and idempotency store, one transaction per
request, ``DomainError`` → the platform's error envelope with nothing changed.

Order: key (401) → query string → rate limit (429) → body (422) → idempotency claim →
``prepare`` (outside any transaction: downloads, provider calls with their own idempotency
keys) → ``action`` in one transaction, storing the response under the idempotency key in that
same transaction.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from api.auth import key_from_headers
from api.logging import request_log_context
from api.middleware import BodyRefused, BodyTooLarge, request_id_of
from api.rate_limit import RateLimiter
from api.rest import errors
from api.rest.errors import RestError
from api.rest.versions import HEADER as VERSION_HEADER
from api.rest.versions import ApiVersion, resolve
from api.rest.wire import envelope, json_response
from services import idempotency
from services.app_services import AppServices
from services.errors import DomainError
from services.infra.database import Database, Session
from services.organizations.api_keys import Viewer

log = logging.getLogger("payouts.rest")

REPLAY_HEADER = "Idempotent-Replayed"


@dataclass
class RestEnv:
    """What the handlers need from the app (built once, in ``api.rest.mount``): the services
    GraphQL hands its resolvers, its Authenticator and its rate limiter."""

    app: AppServices
    authenticate: Callable[[str | None], Awaitable[Viewer | None]]
    rate_limiter: RateLimiter | None

    @property
    def db(self) -> Database:
        return self.app.database


@dataclass
class Call:
    request: Request
    env: RestEnv
    viewer: Viewer
    version: ApiVersion
    path: dict[str, str]
    query: Any = None
    body: Any = None

    @property
    def app(self) -> AppServices:
        return self.env.app


Prepare = Callable[[Call], Awaitable[Any]]
Action = Callable[[Session, Call, Any], Awaitable[Any]]


def single_cost(call: Call) -> int:
    return 2  # like a GraphQL mutation: its payload and one object


def list_cost(call: Call) -> int:
    return 1 + int(getattr(call.query, "limit", 1))


@dataclass(frozen=True)
class Operation:
    """One row of the route table: what the OpenAPI document says and what runs."""

    method: str
    path: str
    operation_id: str
    summary: str
    action: Action
    response: Any
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    prepare: Prepare | None = None
    errors: tuple[int, ...] = ()
    # Service field names that are path parameters here (``planGroupId`` → ``id``).
    renames: Mapping[str, str] = field(default_factory=dict)
    not_found: str = "not_found"  # the code of a missing object no field names
    cost: Callable[[Call], int] = single_cost
    empty_body: bool = False  # an empty body (or ``{}``) is allowed and means "no body"
    also: tuple[str, ...] = ()  # older methods of the same operation (PUT before PATCH)
    deprecated: bool = False
    description: str = ""

    @property
    def writes(self) -> bool:
        return self.method != "GET"

    @property
    def methods(self) -> tuple[str, ...]:
        return (self.method, *self.also)


async def serve(request: Request, operation: Operation, env: RestEnv) -> Response:
    try:
        return await _serve(request, operation, env)
    except RestError as error:
        return error_response(error)
    except BodyTooLarge:  # the body-counting middleware stopped reading it
        return error_response(errors.too_large())
    except BodyRefused:  # a body that never finishes: the middleware answers 408
        raise
    except Exception:
        request_id = request_id_of(request.scope)
        log.exception(
            "unexpected error in %s (request %s)",
            operation.operation_id,
            request_id,
            extra={"request_id": request_id},
        )
        return error_response(errors.internal(request_id))


def error_response(error: RestError) -> Response:
    return json_response(error.body(), error.status, error.headers or None)


async def _serve(request: Request, operation: Operation, env: RestEnv) -> Response:
    log_context = request_log_context.get()
    if log_context is not None:  # the access log line names the operation
        log_context.operation = operation.operation_id
    viewer = await env.authenticate(key_from_headers(request.headers))
    if viewer is None:
        raise errors.unauthorized()
    if log_context is not None:
        log_context.organization_id = viewer.organization_id
    call = Call(
        request=request,
        env=env,
        viewer=viewer,
        version=resolve(request.headers.get(VERSION_HEADER)),
        path=_path_params(request),
    )
    if operation.query is not None:
        call.query = _parse_query(operation.query, request)
    await _charge(env, viewer, operation.cost(call))
    if operation.body is not None:
        call.body = _parse_body(operation.body, await request.body(), operation.empty_body)
    if not operation.writes:
        async with env.db.read() as session:
            return _ok(await _run(operation, session, call, None), call)
    key = request.headers.get("idempotency-key")
    if key is None:
        return await _execute(operation, call, None)
    return await _idempotent(operation, call, key)


def _path_params(request: Request) -> dict[str, str]:
    params = {name: str(value) for name, value in request.path_params.items()}
    if any("\x00" in value for value in params.values()):
        raise errors.not_found("No such object.")
    return params


def _parse_query(model: type[BaseModel], request: Request) -> Any:
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise errors.from_pydantic(exc, where="query") from None


def _parse_body(model: type[BaseModel], raw: bytes, empty_allowed: bool) -> Any:
    if empty_allowed and _is_empty(raw):
        return None
    try:
        return model.model_validate_json(raw if raw.strip() else b"{}")
    except ValidationError as exc:
        raise errors.from_pydantic(exc) from None


def _is_empty(raw: bytes) -> bool:
    if not raw.strip():
        return True
    try:
        return bool(json.loads(raw) == {})
    except ValueError:
        return False


async def _charge(env: RestEnv, viewer: Viewer, cost: int) -> None:
    if env.rate_limiter is None:
        return
    # One GraphQL bucket per key; a request never costs more than the bucket can ever hold.
    cost = min(cost, env.rate_limiter.capacity)
    decision = await env.rate_limiter.take(f"key:{viewer.api_key_id}", cost)
    if not decision.allowed:
        raise errors.rate_limited(max(1, math.ceil(decision.retry_after)))


async def _run(operation: Operation, session: Session, call: Call, prepared: Any) -> Any:
    try:
        return await operation.action(session, call, prepared)
    except DomainError as error:
        raise errors.from_domain(error, operation.renames, operation.not_found) from None


def _ok(data: Any, call: Call) -> Response:
    return json_response(envelope(data, call.version))


async def _execute(operation: Operation, call: Call, scope: idempotency.Scope | None) -> Response:
    db = call.env.db
    try:
        prepared = None
        if operation.prepare is not None:
            try:
                prepared = await operation.prepare(call)
            except DomainError as error:
                raise errors.from_domain(error, operation.renames, operation.not_found) from error
        async with db.transaction() as session:
            data = await _run(operation, session, call, prepared)
            if scope is not None:
                stored = envelope(data, call.version, stored=True)
                await idempotency.complete(session, scope, _stored(200, stored))
        # Rendered after commit: after-commit steps may have filled in fields (a transfer id).
        return _ok(data, call)
    except RestError as error:
        if scope is not None:
            await _remember_failure(db, scope, error)
        raise
    except BaseException:
        if scope is not None:
            await asyncio.shield(idempotency.release(db, scope))
        raise


async def _remember_failure(db: Database, scope: idempotency.Scope, error: RestError) -> None:
    # Malformed input never "executed": free the key so a corrected request can use it.
    if error.code in ("validation_error", "invalid_json"):
        await idempotency.release(db, scope)
        return
    async with db.transaction() as session:
        await idempotency.complete(session, scope, _stored(error.status, error.body()))


async def _idempotent(operation: Operation, call: Call, key: str) -> Response:
    viewer = call.viewer
    scope = idempotency.Scope(viewer.organization_id, viewer.livemode, key)
    name = f"rest:{operation.operation_id}"
    request = {
        "path": call.path,
        "body": call.body.model_dump(mode="json", exclude_unset=True) if call.body else None,
    }
    fingerprint = idempotency.fingerprint(call.app.secret_key, name, request)
    try:
        stored = await idempotency.claim(call.env.db, scope, name, fingerprint)
    except DomainError as error:
        raise errors.from_domain(error, {}) from None
    if stored is not None:
        replay = json.loads(stored)
        return json_response(replay["body"], replay["status"], {REPLAY_HEADER: "true"})
    return await _execute(operation, call, scope)


def _stored(status: int, body: Any) -> str:
    return json.dumps({"status": status, "body": body}, separators=(",", ":"))
