"""``balance`` and ``balanceTransactions``, and the ``txn`` node."""

from __future__ import annotations

import strawberry

from models.ledger import BalanceTransaction as BalanceTransactionRow
from resolvers.auth import require_viewer
from resolvers.balance.types import Balance, BalanceTransaction
from resolvers.context import Info
from resolvers.node import Node
from resolvers.pagination import Connection, page_request_errors, to_connection
from services.ledger import service as ledger
from services.organizations.api_keys import Viewer
from services.pagination import keyset_page


async def load_transaction(info: Info, viewer: Viewer, node_id: str) -> Node | None:
    async with info.context.db.read() as session:
        row = await ledger.get_transaction(session, viewer, node_id)
    return None if row is None else BalanceTransaction.of(row)


@strawberry.type
class BalanceQuery:
    @strawberry.field(description="The organization's balance in the key's mode.")
    async def balance(self, info: Info) -> Balance:
        viewer = require_viewer(info)
        async with info.context.db.read() as session:
            view = await ledger.get_balance(
                session, viewer.organization_id, viewer.livemode, viewer.currency
            )
        return Balance.of(view)

    @strawberry.field(description="Ledger entries, newest first.")
    async def balance_transactions(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[BalanceTransaction]:
        viewer = require_viewer(info)
        with page_request_errors():
            async with info.context.db.read() as session:
                page = await keyset_page(
                    session,
                    ledger.transactions_query(viewer.organization_id, viewer.livemode),
                    BalanceTransactionRow,
                    first=first,
                    after=after,
                )
        return to_connection(page, BalanceTransaction.of)
