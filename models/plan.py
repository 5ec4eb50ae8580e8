"""Plans and plan groups (ordered tiers of plans).

Membership lives on the plan row (``plan_group_id``, ``sort_order``), so a plan is in at most
one group by construction. Within a group the orders are dense ``0..n-1``; the unique
constraint on ``(plan_group_id, sort_order)`` backs that under any concurrency.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import new_id, utc_column, utcnow

PLAN_NAME_MAX_LENGTH = 200
PLAN_CODE_MAX_LENGTH = 64
PLAN_GROUP_NAME_MAX_LENGTH = 200
PLAN_GROUP_DESCRIPTION_MAX_LENGTH = 1000
# Sorted, comma-joined lowercase ISO 4217 codes ("eur,usd"): equal sets compare equal.
CURRENCIES_MAX_LENGTH = 255


class PlanGroup(SQLModel, table=True):
    __tablename__ = "plan_groups"
    __table_args__ = (
        sa.Index("ix_plan_groups_owner_created", "organization_id", "livemode", "created_at", "id"),
    )

    id: str = Field(default_factory=lambda: new_id("plg"), primary_key=True, max_length=40)
    organization_id: str = Field(foreign_key="organizations.id", max_length=40)
    livemode: bool
    name: str = Field(max_length=PLAN_GROUP_NAME_MAX_LENGTH)
    description: str | None = Field(default=None, max_length=PLAN_GROUP_DESCRIPTION_MAX_LENGTH)
    is_public: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class Plan(SQLModel, table=True):
    __tablename__ = "plans"
    __table_args__ = (
        sa.UniqueConstraint("organization_id", "livemode", "code", name="uq_plans_owner_code"),
        # Dense positions: no two plans of one group share a position.
        sa.UniqueConstraint("plan_group_id", "sort_order", name="uq_plans_group_sort_order"),
        sa.CheckConstraint(
            "(plan_group_id IS NULL) = (sort_order IS NULL)", name="ck_plans_group_has_order"
        ),
        sa.Index("ix_plans_owner_created", "organization_id", "livemode", "created_at", "id"),
    )

    id: str = Field(default_factory=lambda: new_id("plan"), primary_key=True, max_length=40)
    organization_id: str = Field(foreign_key="organizations.id", max_length=40)
    livemode: bool
    name: str = Field(max_length=PLAN_NAME_MAX_LENGTH)
    code: str = Field(max_length=PLAN_CODE_MAX_LENGTH)
    currencies: str = Field(max_length=CURRENCIES_MAX_LENGTH)
    # Indexed by the leading column of uq_plans_group_sort_order.
    plan_group_id: str | None = Field(default=None, foreign_key="plan_groups.id", max_length=40)
    sort_order: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())

    @property
    def currency_list(self) -> list[str]:
        return self.currencies.split(",")
