"""The ``Node`` interface and ``node(id)``: each domain module registers its id prefix."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import strawberry

from resolvers.context import Info
from resolvers.scopes import may_load_node
from services.api_keys import Viewer


@strawberry.interface(description="An object with an opaque, prefixed id.")
class Node:
    id: strawberry.ID
    created_at: datetime
    livemode: bool


NodeLoader = Callable[[Info, Viewer, str], Awaitable[Node | None]]
_LOADERS: dict[str, NodeLoader] = {}


def register_node(prefix: str) -> Callable[[NodeLoader], NodeLoader]:
    """Make ``node(id)`` resolve ids starting with ``prefix_`` through the decorated loader.

    A loader must return None for ids of another organization or mode.
    """

    def decorate(loader: NodeLoader) -> NodeLoader:
        _LOADERS[prefix] = loader
        return loader

    return decorate


async def load_node(info: Info, viewer: Viewer, node_id: str) -> Node | None:
    prefix, _, rest = node_id.partition("_")
    loader = _LOADERS.get(prefix)
    if loader is None or not rest:
        return None
    node = await loader(info, viewer, node_id)
    if node is None or viewer.scopes is None:
        return node
    # A client session sees through ``node`` only the objects its scopes cover.
    definition = getattr(node, "__strawberry_definition__", None)
    return (
        node if definition is not None and may_load_node(definition.name, viewer.scopes) else None
    )
