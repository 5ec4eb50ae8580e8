"""Plans: creation, validation and scoped reads.

Every read is scoped to the viewer's organization and mode: another organization's or mode's
id behaves exactly like an unknown one. Group membership and ordering live in
``services.plans.groups``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from pydantic import BaseModel, field_validator
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models.plan import PLAN_CODE_MAX_LENGTH, PLAN_NAME_MAX_LENGTH, Plan, PlanGroup
from services.errors import DomainError, ErrorCode
from services.organizations.api_keys import Viewer
from services.pagination import Page, keyset_page
from services.plans.currencies import ISO_CURRENCIES
from services.scope import in_scope, locked
from services.validation import validate

MAX_CURRENCIES = 50
_CODE = re.compile(r"[a-z0-9_]+")

PLANS = cast(sa.Table, Plan.__table__)  # type: ignore[attr-defined]
PLAN_GROUPS = cast(sa.Table, PlanGroup.__table__)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class GroupWithPlans:
    group: PlanGroup
    plans: list[Plan]  # ordered by sort_order, which is dense 0..n-1

    @property
    def id(self) -> str:
        return self.group.id

    @property
    def created_at(self) -> datetime:
        return self.group.created_at


# Bidirectional overrides and isolates let a name display differently from what it is.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean_name(value: str, *, max_length: int) -> str:
    """A one-line name: trimmed, non-empty, bounded, no control characters."""
    return clean_text(value, max_length=max_length, multiline=False)


def clean_text(value: str, *, max_length: int, multiline: bool = True) -> str:
    """Trimmed, non-empty, bounded; control characters only as line breaks and tabs."""
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    if len(value) > max_length:
        raise ValueError(f"must be at most {max_length} characters")
    allowed = "\n\r\t" if multiline else ""
    for ch in value:
        if ch in _BIDI_CONTROLS or (unicodedata.category(ch) == "Cc" and ch not in allowed):
            raise ValueError("must not contain control characters")
    return value


def normalize_currencies(values: list[str]) -> str:
    """A sorted, duplicate-free, lowercase set of ISO 4217 codes, joined by commas."""
    if not values:
        raise ValueError("must list at least one currency")
    if len(values) > MAX_CURRENCIES:
        raise ValueError(f"must list at most {MAX_CURRENCIES} currencies")
    codes = {value.strip().lower() for value in values}
    unknown = sorted(code for code in codes if code not in ISO_CURRENCIES)
    if unknown:
        shown = ", ".join(repr(code[:8]) for code in unknown[:5])
        raise ValueError(f"not ISO 4217 currency codes: {shown}")
    return ",".join(sorted(codes))


class CreatePlanRequest(BaseModel):
    name: str
    code: str
    currencies: str

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return clean_name(value, max_length=PLAN_NAME_MAX_LENGTH)

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if not 1 <= len(value) <= PLAN_CODE_MAX_LENGTH:
            raise ValueError(f"must be 1 to {PLAN_CODE_MAX_LENGTH} characters")
        if _CODE.fullmatch(value) is None:
            raise ValueError("must match ^[a-z0-9_]+$ (lowercase letters, digits, underscores)")
        return value

    @field_validator("currencies", mode="before")
    @classmethod
    def _currencies(cls, value: Any) -> str:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError("must be a list of currency codes")
        return normalize_currencies(value)


async def create_plan(
    session: AsyncSession, viewer: Viewer, *, name: str, code: str, currencies: list[str]
) -> Plan:
    request = validate(CreatePlanRequest, {"name": name, "code": code, "currencies": currencies})
    if await _code_taken(session, viewer, request.code):
        raise _duplicate_code(request.code)
    plan = Plan(
        organization_id=viewer.organization_id,
        livemode=viewer.livemode,
        name=request.name,
        code=request.code,
        currencies=request.currencies,
    )
    session.add(plan)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent create took the code first (PostgreSQL)
        raise _duplicate_code(request.code) from exc
    return plan


def _duplicate_code(code: str) -> DomainError:
    return DomainError(
        ErrorCode.DUPLICATE, f"a plan with code {code!r} already exists", ["input", "code"]
    )


async def _code_taken(session: AsyncSession, viewer: Viewer, code: str) -> bool:
    stmt = sa.select(PLANS.c.id).where(*owned_by(PLANS, viewer), PLANS.c.code == code)
    return (await session.execute(stmt)).first() is not None


def owned_by(table: sa.Table, viewer: Viewer) -> tuple[sa.ColumnElement[bool], ...]:
    return (in_scope(table.c, viewer),)


async def get_plan(
    session: AsyncSession, viewer: Viewer, plan_id: str, *, lock: bool = False
) -> Plan | None:
    stmt = sa.select(Plan).where(*owned_by(PLANS, viewer), PLANS.c.id == plan_id)
    if lock:
        stmt = locked(stmt)
    stmt = stmt.execution_options(populate_existing=True)
    return cast(Plan | None, (await session.execute(stmt)).scalar_one_or_none())


async def list_plans(
    session: AsyncSession, viewer: Viewer, *, first: int | None, after: str | None
) -> Page[Plan]:
    stmt = sa.select(Plan).where(*owned_by(PLANS, viewer))
    return await keyset_page(session, stmt, Plan, first=first, after=after)


async def list_plan_groups(
    session: AsyncSession, viewer: Viewer, *, first: int | None, after: str | None
) -> Page[GroupWithPlans]:
    stmt = sa.select(PlanGroup).where(*owned_by(PLAN_GROUPS, viewer))
    page = await keyset_page(session, stmt, PlanGroup, first=first, after=after)
    groups = await load_groups(session, viewer, [group.id for group in page.rows])
    rows = [groups[group.id] for group in page.rows]
    return Page(rows, page.has_next_page, page.has_previous_page)


async def get_plan_group(
    session: AsyncSession, viewer: Viewer, group_id: str
) -> GroupWithPlans | None:
    return (await load_groups(session, viewer, [group_id])).get(group_id)


async def load_groups(
    session: AsyncSession, viewer: Viewer, group_ids: list[str]
) -> dict[str, GroupWithPlans]:
    """The viewer's groups among ``group_ids``, each with its plans in order (two queries)."""
    if not group_ids:
        return {}
    group_stmt = (
        sa.select(PlanGroup)
        .where(*owned_by(PLAN_GROUPS, viewer), PLAN_GROUPS.c.id.in_(set(group_ids)))
        .execution_options(populate_existing=True)
    )
    groups = list((await session.execute(group_stmt)).scalars())
    if not groups:
        return {}
    plan_stmt = (
        sa.select(Plan)
        .where(PLANS.c.plan_group_id.in_([group.id for group in groups]))
        .order_by(PLANS.c.plan_group_id, PLANS.c.sort_order)
        .execution_options(populate_existing=True)
    )
    members: dict[str, list[Plan]] = {group.id: [] for group in groups}
    for plan in (await session.execute(plan_stmt)).scalars():
        members[cast(str, plan.plan_group_id)].append(plan)
    return {group.id: GroupWithPlans(group, members[group.id]) for group in groups}
