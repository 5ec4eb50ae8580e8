"""The platform's REST API under ``/api/v1`` (SPEC §3.11), for its official SDKs: the same
services, Authenticator, rate limiter, idempotency store and transactions as GraphQL."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.routing import Mount

from api.rate_limit import RateLimiter
from api.rest.openapi import document
from api.rest.pipeline import RestEnv
from api.rest.routes import build_app
from services.app_services import AppServices
from services.organizations.api_keys import Viewer

PREFIX = "/api/v1"


class RestMount(Mount):
    """Routes every path under the prefix here, even one holding a line break (``%0A``), so
    it is answered in the platform's envelope (Mount's own pattern stops at line breaks)."""

    def __init__(self, path: str, app: Any) -> None:
        super().__init__(path, app=app)
        self.path_regex = re.compile(self.path_regex.pattern, re.DOTALL)


def mount(
    *,
    services: AppServices,
    authenticate: Callable[[str | None], Awaitable[Viewer | None]],
    rate_limiter: RateLimiter | None,
) -> Mount:
    env = RestEnv(app=services, authenticate=authenticate, rate_limiter=rate_limiter)
    return RestMount(PREFIX, build_app(env, document))
