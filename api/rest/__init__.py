"""The platform's REST API under ``/api/v1`` (SPEC §3.11), for its official SDKs: the same
services, Authenticator, rate limiter, idempotency store and transactions as GraphQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette

from api.rest.openapi import document
from api.rest.pipeline import RestEnv
from api.rest.routes import build_app
from services.api_keys import Viewer
from services.database import Database

PREFIX = "/api/v1"


def build(
    *,
    db: Database,
    authenticate: Callable[[str | None], Awaitable[Viewer | None]],
    rate_limiter: Any,
    services: Mapping[str, Any],
) -> Starlette:
    env = RestEnv(
        db=db,
        authenticate=authenticate,
        rate_limiter=rate_limiter,
        secret_key=str(services["settings"].secret_key),
        services=services,
    )
    return build_app(env, document)
