"""Response objects in the platform's shapes (``commet/types.py``): each carries ``object`` and
``livemode``; enums in lower case; timestamps in ISO 8601. Built from our rows."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from api.rest.versions import ApiVersion
from api.rest.wire import WireObject
from models.payout import Payout as PayoutRow
from models.payout_account import BankAccount as BankAccountRow
from models.payout_account import PayoutAccount as PayoutAccountRow
from models.plan import Plan as PlanRow
from services.plans.service import GroupWithPlans

PayoutStatus = Literal["pending", "in_transit", "paid", "failed", "canceled"]


class Payout(WireObject):
    id: str
    status: PayoutStatus
    amount: int = Field(description="Gross amount in cents.")
    fee: int
    net_amount: int = Field(description="amount - fee: what reaches the bank.")
    currency: str
    description: str | None
    provider_transfer_id: str | None = Field(
        description="Null until the provider accepted the transfer (moments after the request)."
    )
    paid_at: datetime | None
    failed_at: datetime | None
    failure_code: str | None
    failure_message: str | None
    created_at: datetime
    object: Literal["payout"] = "payout"
    livemode: bool

    @classmethod
    def of(cls, row: PayoutRow) -> Payout:
        return cls(
            id=row.id,
            status=row.status.lower(),
            amount=row.amount,
            fee=row.fee,
            net_amount=row.net_amount,
            currency=row.currency,
            description=row.description,
            provider_transfer_id=row.provider_transfer_id,
            paid_at=row.paid_at,
            failed_at=row.failed_at,
            failure_code=row.failure_code,
            failure_message=row.failure_message,
            created_at=row.created_at,
            livemode=row.livemode,
        )


class PayoutBankAccount(WireObject):
    id: str
    provider_external_account_id: str | None
    holder_name: str
    last4: str
    bank_name: str | None
    country: str
    currency: str
    account_type: Literal["checking", "savings"] | None
    is_default: bool
    status: Literal["active", "errored"]
    created_at: datetime
    object: Literal["payout_bank_account"] = "payout_bank_account"
    livemode: bool

    @classmethod
    def of(cls, row: BankAccountRow) -> PayoutBankAccount:
        return cls(
            id=row.id,
            provider_external_account_id=row.provider_external_account_id,
            holder_name=row.holder_name,
            last4=row.last4,
            bank_name=row.bank_name,
            country=row.country,
            currency=row.currency,
            account_type=row.account_type.lower() if row.account_type else None,
            is_default=row.is_default,
            status=row.status.lower(),
            created_at=row.created_at,
            livemode=row.livemode,
        )


class PayoutAccount(WireObject):
    """What ``POST /payouts/verification`` answers. ``businessType`` and ``country`` come with
    a newly created account only; versions before 2026-07-24 report ``alreadyExists``, later
    ones ``outcome``."""

    OMITTED_WHEN_NONE: ClassVar[frozenset[str]] = frozenset(
        {"business_type", "country", "outcome", "already_exists"}
    )

    id: str
    provider_account_id: str | None
    status: Literal["pending_verification", "verified", "restricted", "disabled"]
    transfers_enabled: bool
    business_type: Literal["individual", "company"] | None = None
    country: str | None = None
    outcome: Literal["created", "existing"] | None = None
    already_exists: bool | None = None
    object: Literal["payout_account"] = "payout_account"
    livemode: bool

    @classmethod
    def of(cls, row: PayoutAccountRow, outcome: str, version: ApiVersion) -> PayoutAccount:
        created = outcome == "CREATED"
        return cls(
            id=row.id,
            provider_account_id=row.provider_account_id,
            status=row.status.lower(),
            transfers_enabled=row.transfers_enabled,
            business_type=row.business_type.lower() if created else None,
            country=row.country if created else None,
            outcome=None if version.legacy else outcome.lower(),
            already_exists=(not created) if version.legacy else None,
            livemode=row.livemode,
        )


class PlanGroup(WireObject):
    id: str
    name: str
    description: str | None
    is_public: bool
    created_at: datetime
    updated_at: datetime
    object: Literal["plan_group"] = "plan_group"
    livemode: bool

    @classmethod
    def of(cls, data: GroupWithPlans) -> PlanGroup:
        group = data.group
        return cls(
            id=group.id,
            name=group.name,
            description=group.description,
            is_public=group.is_public,
            created_at=group.created_at,
            updated_at=group.updated_at,
            livemode=group.livemode,
        )


class PlanGroupPlan(WireObject):
    id: str
    name: str
    sort_order: int


class PlanGroupDetail(PlanGroup):
    plans: list[PlanGroupPlan] = Field(description="In order, sortOrder 0 first.")

    @classmethod
    def of(cls, data: GroupWithPlans) -> PlanGroupDetail:
        plans = [
            PlanGroupPlan(id=p.id, name=p.name, sort_order=i) for i, p in enumerate(data.plans)
        ]
        return cls(**PlanGroup.of(data).model_dump(), plans=plans)


class AddedPlanToGroup(WireObject):
    success: bool = True
    object: Literal["plan_group_membership", "plan_group"] = "plan_group_membership"
    livemode: bool


class RemovedPlanFromGroup(WireObject):
    id: str = Field(description="The plan taken out of the group.")
    removed: bool = True
    object: Literal["plan_group_membership", "plan_group"] = "plan_group_membership"
    livemode: bool


class ReorderedPlans(WireObject):
    reordered: bool = True
    object: Literal["plan_group_order", "plan_group"] = "plan_group_order"
    livemode: bool


class DeletedObject(WireObject):
    id: str
    deleted: Literal[True] = True
    object: str
    livemode: bool


class Plan(WireObject):
    id: str
    name: str
    code: str
    description: str | None = None
    currencies: list[str]
    plan_group_id: str | None
    sort_order: int | None
    created_at: datetime
    object: Literal["plan"] = "plan"
    livemode: bool

    @classmethod
    def of(cls, row: PlanRow) -> Plan:
        return cls(
            id=row.id,
            name=row.name,
            code=row.code,
            currencies=row.currency_list,
            plan_group_id=row.plan_group_id,
            sort_order=row.sort_order,
            created_at=row.created_at,
            livemode=row.livemode,
        )


def membership_object(version: ApiVersion, current: str) -> str:
    """Versions before 2026-07-24 named every plan-group answer ``plan_group``."""
    return "plan_group" if version.legacy else current
