"""The per-request (or per-WebSocket-connection) GraphQL context."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import strawberry

from services.app_services import AppServices
from services.infra.database import Database
from services.organizations.api_keys import Viewer


@dataclass
class Context:
    db: Database
    request_id: str
    services: AppServices
    viewer: Viewer | None = None
    request: Any = None
    response: Any = None
    idempotency_key_header: str | None = None
    connection_params: dict[str, Any] | None = None
    # Anything a resolver wants to share within one operation (loaders are built per operation).
    state: dict[str, Any] = field(default_factory=dict)


Info = strawberry.Info[Context, None]
