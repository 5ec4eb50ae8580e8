"""``payout`` and ``payouts``, and the ``po`` node."""

from __future__ import annotations

import strawberry

from models.payout import PayoutStatus
from resolvers.auth import require_viewer
from resolvers.context import Info
from resolvers.node import Node
from resolvers.pagination import Connection, nodes_connection, page_request_errors
from resolvers.payouts.types import Payout, PayoutStatusEnum
from services.organizations.api_keys import Viewer
from services.payouts import queries
from services.payouts import service as payouts


@strawberry.type
class PayoutQuery:
    @strawberry.field(description="One payout by id; null when it is not yours or unknown.")
    async def payout(self, info: Info, id: strawberry.ID) -> Payout | None:
        viewer = require_viewer(info)
        async with info.context.db.read() as session:
            row = await payouts.get_payout(
                session, viewer.organization_id, viewer.livemode, str(id)
            )
        return None if row is None else Payout.of(row)

    @strawberry.field(description="Payouts, newest first (keyset over createdAt, id).")
    async def payouts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: PayoutStatusEnum | None = None,  # type: ignore[valid-type]
    ) -> Connection[Payout]:
        viewer = require_viewer(info)
        with page_request_errors():
            page = await queries.list_payouts(
                info.context.db,
                viewer,
                status=None if status is None else PayoutStatus(status),
                first=first,
                after=after,
            )
        return nodes_connection(page, Payout.of_rows(page.rows))


async def load_payout(info: Info, viewer: Viewer, node_id: str) -> Node | None:
    async with info.context.db.read() as session:
        row = await payouts.get_payout(session, viewer.organization_id, viewer.livemode, node_id)
    return None if row is None else Payout.of(row)
