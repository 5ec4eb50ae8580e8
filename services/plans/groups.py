"""Plan groups: ordered tiers of plans, with dense positions ``0..n-1``.

Concurrency: every change to a group's membership first locks the group row
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite serializes writers with ``BEGIN IMMEDIATE``),
then the plan row, always in that order. The unique constraint on
``(plan_group_id, sort_order)`` is checked per row by both databases, so positions are shifted
in two statements through negative temporaries, never colliding mid-statement.
"""

from __future__ import annotations

import sqlalchemy as sa
from pydantic import BaseModel, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.plan import (
    PLAN_GROUP_DESCRIPTION_MAX_LENGTH,
    PLAN_GROUP_NAME_MAX_LENGTH,
    Plan,
    PlanGroup,
)
from services.errors import DomainError, ErrorCode, NotFound, validation_error
from services.organizations.api_keys import Viewer
from services.plans.service import (
    PLAN_GROUPS,
    PLANS,
    GroupWithPlans,
    clean_name,
    clean_text,
    get_plan,
    load_groups,
    owned_by,
)
from services.scope import locked
from services.validation import validate

MAX_PLANS_PER_GROUP = 100


class PlanGroupFields(BaseModel):
    """Editable fields; ``None`` means "not given" and a blank description means "clear it"."""

    name: str | None = None
    description: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return clean_name(value, max_length=PLAN_GROUP_NAME_MAX_LENGTH)

    @field_validator("description")
    @classmethod
    def _description(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None if value is None else ""
        return clean_text(value, max_length=PLAN_GROUP_DESCRIPTION_MAX_LENGTH)


class NewPlanGroupFields(PlanGroupFields):
    name: str


async def create_plan_group(
    session: AsyncSession,
    viewer: Viewer,
    *,
    name: str,
    description: str | None = None,
    is_public: bool = False,
) -> GroupWithPlans:
    fields = validate(NewPlanGroupFields, {"name": name, "description": description})
    group = PlanGroup(
        organization_id=viewer.organization_id,
        livemode=viewer.livemode,
        name=fields.name,
        description=fields.description or None,
        is_public=is_public,
    )
    session.add(group)
    await session.flush()
    return GroupWithPlans(group, [])


async def update_plan_group(
    session: AsyncSession,
    viewer: Viewer,
    group_id: str,
    *,
    name: str | None = None,
    description: str | None = None,
    is_public: bool | None = None,
) -> GroupWithPlans:
    """Change the fields given (not None); an empty ``description`` clears it."""
    fields = validate(PlanGroupFields, {"name": name, "description": description})
    group = await _lock_group(session, viewer, group_id)
    if fields.name is not None:
        group.name = fields.name
    if fields.description is not None:
        group.description = fields.description or None
    if is_public is not None:
        group.is_public = is_public
    group.updated_at = utcnow()
    await session.flush()
    return await _reload(session, viewer, group.id)


async def delete_plan_group(session: AsyncSession, viewer: Viewer, group_id: str) -> list[Plan]:
    """Delete the group and unlink its plans (none is deleted). Returns the unlinked plans."""
    group = await _lock_group(session, viewer, group_id)
    members = (await _reload(session, viewer, group.id)).plans
    await session.execute(
        sa.update(PLANS)
        .where(PLANS.c.plan_group_id == group.id)
        .values(plan_group_id=None, sort_order=None)
    )
    await session.execute(sa.delete(PLAN_GROUPS).where(PLAN_GROUPS.c.id == group.id))
    session.expunge(group)
    for plan in members:
        session.expunge(plan)  # already unlinked in the table; keep the ORM from re-writing it
        plan.plan_group_id = None
        plan.sort_order = None
    return members


async def add_plan_to_group(
    session: AsyncSession,
    viewer: Viewer,
    group_id: str,
    plan_id: str,
    sort_order: int | None = None,
) -> GroupWithPlans:
    """Insert the plan at ``sort_order`` (appended when omitted or past the end), shifting the
    plans at and after it. A plan already in this group moves to that position."""
    if sort_order is not None and sort_order < 0:
        raise validation_error("sortOrder must be 0 or more", "input", "sortOrder")
    group = await _lock_group(session, viewer, group_id)
    plan = await get_plan(session, viewer, plan_id, lock=True)
    if plan is None:
        raise NotFound("plan", ["input", "planId"])
    if plan.plan_group_id is not None and plan.plan_group_id != group.id:
        raise DomainError(
            ErrorCode.PLAN_ALREADY_IN_GROUP,
            "the plan is already in another plan group; remove it from that group first",
            ["input", "planId"],
        )
    if plan.plan_group_id == group.id:
        await _detach(session, group.id, plan.id, _position(plan.sort_order))
    else:
        await _check_can_join(session, group.id, plan.currencies)
    others = await _member_ids(session, group.id)
    position = len(others) if sort_order is None else min(sort_order, len(others))
    await _shift(session, group.id, start=position, delta=1)
    await session.execute(
        sa.update(PLANS)
        .where(PLANS.c.id == plan.id)
        .values(plan_group_id=group.id, sort_order=position)
    )
    return await _reload(session, viewer, group.id)


async def remove_plan_from_group(
    session: AsyncSession, viewer: Viewer, group_id: str, plan_id: str
) -> GroupWithPlans:
    """Take the plan out of the group and close the gap it leaves."""
    group = await _lock_group(session, viewer, group_id)
    plan = await get_plan(session, viewer, plan_id, lock=True)
    if plan is None or plan.plan_group_id != group.id:
        what = "plan" if plan is None else "plan in this plan group"
        raise NotFound(what, ["input", "planId"])
    await _detach(session, group.id, plan.id, _position(plan.sort_order))
    return await _reload(session, viewer, group.id)


async def reorder_plans_in_group(
    session: AsyncSession, viewer: Viewer, group_id: str, plan_ids: list[str]
) -> GroupWithPlans:
    """Put the group's plans in the order of ``plan_ids``, which lists each of them once."""
    group = await _lock_group(session, viewer, group_id)
    members = await _member_ids(session, group.id)
    if len(plan_ids) != len(members) or set(plan_ids) != set(members):
        raise DomainError(
            ErrorCode.INVALID_PLAN_ORDER,
            f"planIds must list every plan of the group exactly once ({len(members)} plans)",
            ["input", "planIds"],
        )
    if plan_ids != members:
        await _negate(session, group.id, sa.true())
        positions = sa.case(
            {plan_id: index for index, plan_id in enumerate(plan_ids)}, value=PLANS.c.id
        )
        await session.execute(
            sa.update(PLANS).where(PLANS.c.plan_group_id == group.id).values(sort_order=positions)
        )
    return await _reload(session, viewer, group.id)


async def _lock_group(session: AsyncSession, viewer: Viewer, group_id: str) -> PlanGroup:
    stmt = locked(
        sa.select(PlanGroup)
        .where(*owned_by(PLAN_GROUPS, viewer), PLAN_GROUPS.c.id == group_id)
        .execution_options(populate_existing=True)
    )
    group = (await session.execute(stmt)).scalar_one_or_none()
    if group is None:
        raise NotFound("plan group", ["input", "planGroupId"])
    return group


async def _check_can_join(session: AsyncSession, group_id: str, currencies: str) -> None:
    stmt = sa.select(PLANS.c.currencies, sa.func.count()).where(PLANS.c.plan_group_id == group_id)
    stmt = stmt.group_by(PLANS.c.currencies)
    existing = (await session.execute(stmt)).all()
    count = sum(row[1] for row in existing)
    if count >= MAX_PLANS_PER_GROUP:
        raise validation_error(
            f"a plan group holds at most {MAX_PLANS_PER_GROUP} plans", "input", "planGroupId"
        )
    if existing and existing[0][0] != currencies:
        raise DomainError(
            ErrorCode.CURRENCY_MISMATCH,
            f"the group's plans are priced in {existing[0][0]}; this plan in {currencies}",
            ["input", "planId"],
        )


async def _member_ids(session: AsyncSession, group_id: str) -> list[str]:
    stmt = (
        sa.select(PLANS.c.id).where(PLANS.c.plan_group_id == group_id).order_by(PLANS.c.sort_order)
    )
    return list((await session.execute(stmt)).scalars())


async def _detach(session: AsyncSession, group_id: str, plan_id: str, position: int) -> None:
    await session.execute(
        sa.update(PLANS).where(PLANS.c.id == plan_id).values(plan_group_id=None, sort_order=None)
    )
    await _shift(session, group_id, start=position + 1, delta=-1)


async def _shift(session: AsyncSession, group_id: str, *, start: int, delta: int) -> None:
    """Move every position ``>= start`` by ``delta``, in two collision-free statements."""
    moved = PLANS.c.sort_order >= start
    # Phase 1: p -> -1 - (p + delta), all negative and distinct; phase 2 flips them back.
    await session.execute(
        sa.update(PLANS)
        .where(PLANS.c.plan_group_id == group_id, moved)
        .values(sort_order=-1 - (PLANS.c.sort_order + delta))
    )
    await _negate(session, group_id, PLANS.c.sort_order < 0)


async def _negate(session: AsyncSession, group_id: str, which: sa.ColumnElement[bool]) -> None:
    await session.execute(
        sa.update(PLANS)
        .where(PLANS.c.plan_group_id == group_id, which)
        .values(sort_order=-1 - PLANS.c.sort_order)
    )


def _position(sort_order: int | None) -> int:
    if sort_order is None:  # guarded by ck_plans_group_has_order
        raise RuntimeError("a grouped plan without a position")
    return sort_order


async def _reload(session: AsyncSession, viewer: Viewer, group_id: str) -> GroupWithPlans:
    return (await load_groups(session, viewer, [group_id]))[group_id]
