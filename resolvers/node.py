"""The ``Node`` interface: every object with an opaque, prefixed id."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import strawberry

from resolvers.context import Info
from services.organizations.api_keys import Viewer


@strawberry.interface(description="An object with an opaque, prefixed id.")
class Node:
    id: strawberry.ID
    created_at: datetime
    livemode: bool


# Loads the node with this id; None for ids of another organization or mode.
NodeLoader = Callable[[Info, Viewer, str], Awaitable[Node | None]]
