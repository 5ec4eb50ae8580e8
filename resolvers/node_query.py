from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers.auth import require_viewer
from resolvers.context import Info
from resolvers.errors import bad_user_input
from resolvers.node import Node, load_node

MAX_NODES = 100


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object by its id; null when it is not yours or unknown.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await load_node(info, require_viewer(info), str(id))

    @strawberry.field(
        description=f"Several objects by id (at most {MAX_NODES}), in the order asked; null "
        "for each id that is not yours or unknown."
    )
    async def nodes(
        self,
        info: Info,
        ids: Annotated[
            list[strawberry.ID], strawberry.argument(description="The ids, any object types.")
        ],
    ) -> list[Node | None]:
        viewer = require_viewer(info)
        if len(ids) > MAX_NODES:
            raise bad_user_input(f"nodes takes at most {MAX_NODES} ids")
        return [await load_node(info, viewer, str(node_id)) for node_id in ids]
