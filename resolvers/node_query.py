from __future__ import annotations

import strawberry

from resolvers.auth import require_viewer
from resolvers.context import Info
from resolvers.node import Node, load_node


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object by its id; null when it is not yours or unknown.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await load_node(info, require_viewer(info), str(id))
