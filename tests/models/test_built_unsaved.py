"""``built_unsaved`` makes the instance SQLModel's constructor would, without the constructor."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from models.base import built_unsaved
from models.payout import Payout, PayoutStatus

NOW = datetime(2026, 12, 3, 19, 0, tzinfo=UTC)
GIVEN: dict[str, Any] = {
    "id": "po_built",
    "organization_id": "org_1",
    "livemode": False,
    "balance_id": "bal_1",
    "payout_account_id": "pa_1",
    "bank_account_id": "ba_1",
    "status": PayoutStatus.PENDING,
    "amount": 1_000,
    "fee": 25,
    "net_amount": 975,
    "currency": "usd",
    "description": "rent",
    "provider": "sandbox",
    "provider_idempotency_key": "payout_po_built",
    "attempts": 1,
    "next_attempt_at": NOW,
    "created_at": NOW,
    "updated_at": NOW,
}
DEFAULTED = dict.fromkeys(
    (
        "provider_transfer_id",
        "last_error",
        "failure_code",
        "failure_message",
        "paid_at",
        "failed_at",
        "canceled_at",
    )
)


def test_the_same_payout_as_the_constructor() -> None:
    built = built_unsaved(Payout, {**GIVEN, **DEFAULTED})
    constructed = Payout(**GIVEN)
    assert built.model_dump() == constructed.model_dump()
    assert repr(built) == repr(constructed)
    assert sa.inspect(built).transient
    built.provider_transfer_id = "tr_1"  # attributes stay settable
    assert built.provider_transfer_id == "tr_1"
    assert built.model_dump()["provider_transfer_id"] == "tr_1"


def test_every_column_must_be_given() -> None:
    with pytest.raises(ValueError, match="provider_transfer_id"):
        built_unsaved(Payout, GIVEN)
    with pytest.raises(ValueError, match="nope"):
        built_unsaved(Payout, {**GIVEN, **DEFAULTED, "nope": 1})
