"""``Payout.of_rows`` builds the same payouts as ``Payout.of``, row by row."""

from __future__ import annotations

from collections import namedtuple
from datetime import UTC, datetime
from typing import Any

from resolvers.payouts.types import Payout
from services.payouts.queries import PAYOUT_COLUMNS

NAMES = [column.name for column in PAYOUT_COLUMNS]


def _tuple_type(name: str, fields: list[str]) -> Any:
    """Rows as the services hand them out: attribute access by column name, ``_fields``."""
    return namedtuple(name, fields)


Row = _tuple_type("Row", NAMES)


def _row(index: int, **changes: Any) -> Any:
    values: dict[str, Any] = {
        "id": f"po_{index}",
        "created_at": datetime(2026, 12, 3, 10, index, tzinfo=UTC),
        "livemode": False,
        "status": "paid",
        "amount": 1000 + index,
        "fee": 25,
        "net_amount": 975 + index,
        "currency": "usd",
        "description": None if index % 2 else "rent",
        "provider_transfer_id": f"tr_{index}",
        "failure_code": None,
        "failure_message": None,
        "paid_at": datetime(2026, 12, 3, 11, index, tzinfo=UTC),
        "failed_at": None,
        "canceled_at": None,
        "bank_account_id": "ba_1",
    }
    values.update(changes)
    return Row(**values)


def test_the_same_payouts_as_of() -> None:
    rows = [_row(i) for i in range(5)]
    built = Payout.of_rows(rows)
    assert [vars(p) for p in built] == [vars(Payout.of(r)) for r in rows]
    assert built == [Payout.of(r) for r in rows]  # dataclass equality over every field
    assert all(type(p) is Payout for p in built)


def test_rows_of_other_columns_go_through_of() -> None:
    Wide = _tuple_type("Wide", [*NAMES, "extra"])
    rows = [Wide(*_row(1), "x")]
    built = Payout.of_rows(rows)
    assert vars(built[0]) == vars(Payout.of(rows[0]))
    assert not hasattr(built[0], "extra")
    assert Payout.of_rows([]) == []
