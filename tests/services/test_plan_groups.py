"""Plan group membership and ordering on the real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.errors import DomainError
from services.infra.database import Database
from services.organizations.api_keys import Viewer
from services.plans import groups as plan_groups
from services.plans import service as plans
from tests.conftest import make_org

Op = Callable[[AsyncSession, Viewer], Awaitable[Any]]


async def new_viewer(db: Database, *, livemode: bool = False) -> Viewer:
    org = await make_org(db, f"Plans {uuid.uuid4().hex[:6]}")
    return Viewer(org.id, org.name, "US", "usd", livemode, "key_test")


async def run(db: Database, viewer: Viewer, op: Op) -> Any:
    async with db.transaction() as session:
        return await op(session, viewer)


async def make_plan(db: Database, viewer: Viewer, code: str, currencies: list[str] | None = None):
    async def op(session: AsyncSession, v: Viewer) -> Any:
        return await plans.create_plan(
            session, v, name=code.title(), code=code, currencies=currencies or ["usd"]
        )

    return await run(db, viewer, op)


async def make_group(db: Database, viewer: Viewer, name: str = "Tiers") -> str:
    async def op(session: AsyncSession, v: Viewer) -> Any:
        return await plan_groups.create_plan_group(session, v, name=name)

    return str((await run(db, viewer, op)).group.id)


async def add(db: Database, viewer: Viewer, group_id: str, plan_id: str, at: int | None = None):
    async def op(session: AsyncSession, v: Viewer) -> Any:
        return await plan_groups.add_plan_to_group(session, v, group_id, plan_id, at)

    return await run(db, viewer, op)


async def group_state(db: Database, viewer: Viewer, group_id: str) -> list[tuple[str, int]]:
    """(code, sort_order) straight from the table, ordered by position."""
    async with db.read() as session:
        found = await plans.get_plan_group(session, viewer, group_id)
    assert found is not None
    return [(p.code, p.sort_order) for p in found.plans]  # type: ignore[misc]


async def all_plan_rows(db: Database, viewer: Viewer) -> list[tuple[str, str | None, int | None]]:
    async with db.read() as session:
        rows = await session.execute(
            sa.select(plans.PLANS.c.code, plans.PLANS.c.plan_group_id, plans.PLANS.c.sort_order)
            .where(*plans.owned_by(plans.PLANS, viewer))
            .order_by(plans.PLANS.c.code)
        )
        return [tuple(row) for row in rows]


async def group_of(db: Database, viewer: Viewer, codes: list[str]) -> tuple[str, dict[str, str]]:
    group_id = await make_group(db, viewer)
    ids = {}
    for code in codes:
        plan = await make_plan(db, viewer, code)
        ids[code] = plan.id
        await add(db, viewer, group_id, plan.id)
    return group_id, ids


def orders(state: list[tuple[str, int]]) -> list[int]:
    return [order for _, order in state]


async def test_add_appends_when_sort_order_omitted(db: Database) -> None:
    viewer = await new_viewer(db)
    group_id, _ = await group_of(db, viewer, ["a", "b", "c"])
    assert await group_state(db, viewer, group_id) == [("a", 0), ("b", 1), ("c", 2)]


@pytest.mark.parametrize(
    ("position", "expected"),
    [
        (0, ["x", "a", "b", "c"]),
        (1, ["a", "x", "b", "c"]),
        (2, ["a", "b", "x", "c"]),
        (3, ["a", "b", "c", "x"]),
        (50, ["a", "b", "c", "x"]),
    ],
    ids=["at-0", "middle", "before-last", "at-end", "past-end"],
)
async def test_insert_at_position_shifts_the_rest_densely(
    db: Database, position: int, expected: list[str]
) -> None:
    viewer = await new_viewer(db)
    group_id, _ = await group_of(db, viewer, ["a", "b", "c"])
    x = await make_plan(db, viewer, "x")
    result = await add(db, viewer, group_id, x.id, position)
    state = await group_state(db, viewer, group_id)
    assert [code for code, _ in state] == expected
    assert orders(state) == [0, 1, 2, 3]
    assert [p.code for p in result.plans] == expected


async def test_insert_into_empty_group_at_any_position_lands_at_zero(db: Database) -> None:
    viewer = await new_viewer(db)
    group_id = await make_group(db, viewer)
    plan = await make_plan(db, viewer, "solo")
    await add(db, viewer, group_id, plan.id, 7)
    assert await group_state(db, viewer, group_id) == [("solo", 0)]


@pytest.mark.parametrize(
    ("code", "position", "expected"),
    [
        ("a", 2, ["b", "c", "a", "d"]),
        ("d", 0, ["d", "a", "b", "c"]),
        ("b", None, ["a", "c", "d", "b"]),
        ("c", 99, ["a", "b", "d", "c"]),
        ("b", 1, ["a", "b", "c", "d"]),
    ],
    ids=["forward", "backward", "omitted-appends", "past-end", "same-place"],
)
async def test_adding_a_member_again_moves_it(
    db: Database, code: str, position: int | None, expected: list[str]
) -> None:
    viewer = await new_viewer(db)
    group_id, ids = await group_of(db, viewer, ["a", "b", "c", "d"])
    await add(db, viewer, group_id, ids[code], position)
    state = await group_state(db, viewer, group_id)
    assert [c for c, _ in state] == expected
    assert orders(state) == [0, 1, 2, 3]


async def test_remove_from_middle_closes_the_gap(db: Database) -> None:
    viewer = await new_viewer(db)
    group_id, ids = await group_of(db, viewer, ["a", "b", "c", "d"])

    async def op(session: AsyncSession, v: Viewer) -> Any:
        return await plan_groups.remove_plan_from_group(session, v, group_id, ids["b"])

    result = await run(db, viewer, op)
    assert [p.code for p in result.plans] == ["a", "c", "d"]
    assert await group_state(db, viewer, group_id) == [("a", 0), ("c", 1), ("d", 2)]
    assert ("b", None, None) in await all_plan_rows(db, viewer)


async def test_reorder_sets_every_position(db: Database) -> None:
    viewer = await new_viewer(db)
    group_id, ids = await group_of(db, viewer, ["a", "b", "c", "d"])
    wanted = [ids["d"], ids["b"], ids["a"], ids["c"]]

    async def op(session: AsyncSession, v: Viewer) -> Any:
        return await plan_groups.reorder_plans_in_group(session, v, group_id, wanted)

    await run(db, viewer, op)
    assert await group_state(db, viewer, group_id) == [("d", 0), ("b", 1), ("a", 2), ("c", 3)]


async def test_delete_group_unlinks_plans_and_keeps_them(db: Database) -> None:
    viewer = await new_viewer(db)
    group_id, _ = await group_of(db, viewer, ["a", "b", "c"])

    async def op(session: AsyncSession, v: Viewer) -> Any:
        return await plan_groups.delete_plan_group(session, v, group_id)

    unlinked = await run(db, viewer, op)
    assert sorted(p.code for p in unlinked) == ["a", "b", "c"]
    assert all(p.plan_group_id is None and p.sort_order is None for p in unlinked)
    assert await all_plan_rows(db, viewer) == [
        ("a", None, None),
        ("b", None, None),
        ("c", None, None),
    ]
    async with db.read() as session:
        assert await plans.get_plan_group(session, viewer, group_id) is None


async def test_update_group_changes_only_given_fields(db: Database) -> None:
    viewer = await new_viewer(db)

    async def create(session: AsyncSession, v: Viewer) -> Any:
        return await plan_groups.create_plan_group(
            session, v, name="Tiers", description="Old", is_public=True
        )

    group_id = (await run(db, viewer, create)).group.id

    async def rename(session: AsyncSession, v: Viewer) -> Any:
        return await plan_groups.update_plan_group(session, v, group_id, name=" New ")

    group = (await run(db, viewer, rename)).group
    assert (group.name, group.description, group.is_public) == ("New", "Old", True)

    async def clear(session: AsyncSession, v: Viewer) -> Any:
        return await plan_groups.update_plan_group(
            session, v, group_id, description="", is_public=False
        )

    group = (await run(db, viewer, clear)).group
    assert (group.name, group.description, group.is_public) == ("New", None, False)


async def expect_error(db: Database, viewer: Viewer, op: Op, code: str) -> DomainError:
    before = await all_plan_rows(db, viewer)
    with pytest.raises(DomainError) as caught:
        await run(db, viewer, op)
    assert caught.value.code == code, caught.value.message
    assert await all_plan_rows(db, viewer) == before
    return caught.value


async def test_plan_in_another_group_is_refused(db: Database) -> None:
    viewer = await new_viewer(db)
    first, ids = await group_of(db, viewer, ["a", "b"])
    second, _ = await group_of(db, viewer, ["c"])

    async def op(session: AsyncSession, v: Viewer) -> Any:
        return await plan_groups.add_plan_to_group(session, v, second, ids["a"], 0)

    error = await expect_error(db, viewer, op, "PLAN_ALREADY_IN_GROUP")
    assert error.field == ["input", "planId"]
    assert await group_state(db, viewer, first) == [("a", 0), ("b", 1)]


async def test_plan_with_other_currencies_is_refused(db: Database) -> None:
    viewer = await new_viewer(db)
    group_id, _ = await group_of(db, viewer, ["a"])
    eur = await make_plan(db, viewer, "eur_plan", ["usd", "eur"])

    async def op(session: AsyncSession, v: Viewer) -> Any:
        return await plan_groups.add_plan_to_group(session, v, group_id, eur.id, 0)

    await expect_error(db, viewer, op, "CURRENCY_MISMATCH")
    assert await group_state(db, viewer, group_id) == [("a", 0)]


async def test_same_currency_set_in_any_order_or_case_is_accepted(db: Database) -> None:
    viewer = await new_viewer(db)
    group_id = await make_group(db, viewer)
    first = await make_plan(db, viewer, "one", ["usd", "eur"])
    second = await make_plan(db, viewer, "two", ["EUR", " usd", "usd"])
    await add(db, viewer, group_id, first.id)
    await add(db, viewer, group_id, second.id)
    assert second.currencies == "eur,usd"
    assert await group_state(db, viewer, group_id) == [("one", 0), ("two", 1)]


@pytest.mark.parametrize(
    "plan_ids",
    [
        lambda ids: [ids["a"], ids["b"]],
        lambda ids: [ids["a"], ids["b"], ids["c"], ids["c"]],
        lambda ids: [ids["a"], ids["b"], ids["b"]],
        lambda ids: [ids["a"], ids["b"], ids["c"], ids["x"]],
        lambda ids: [ids["a"], ids["b"], ids["x"]],
        lambda ids: [],
    ],
    ids=["missing", "duplicate-extra", "duplicate-instead", "extra", "foreign", "empty"],
)
async def test_reorder_must_list_each_plan_once(db: Database, plan_ids: Any) -> None:
    viewer = await new_viewer(db)
    group_id, ids = await group_of(db, viewer, ["a", "b", "c"])
    ids["x"] = (await make_plan(db, viewer, "x")).id

    async def op(session: AsyncSession, v: Viewer) -> Any:
        return await plan_groups.reorder_plans_in_group(session, v, group_id, plan_ids(ids))

    await expect_error(db, viewer, op, "INVALID_PLAN_ORDER")
    assert await group_state(db, viewer, group_id) == [("a", 0), ("b", 1), ("c", 2)]


async def test_negative_sort_order_is_a_validation_error(db: Database) -> None:
    viewer = await new_viewer(db)
    group_id, _ = await group_of(db, viewer, ["a"])
    plan = await make_plan(db, viewer, "b")

    async def op(session: AsyncSession, v: Viewer) -> Any:
        return await plan_groups.add_plan_to_group(session, v, group_id, plan.id, -1)

    error = await expect_error(db, viewer, op, "VALIDATION_ERROR")
    assert error.field == ["input", "sortOrder"]


async def test_unknown_or_foreign_ids_are_not_found(db: Database) -> None:
    viewer = await new_viewer(db)
    other_org = await new_viewer(db)
    live = dataclasses.replace(viewer, livemode=True)
    group_id, ids = await group_of(db, viewer, ["a", "b"])
    loose = (await make_plan(db, viewer, "loose")).id
    ops: list[tuple[Viewer, Op]] = []
    for stranger in (other_org, live):
        ops += [
            (stranger, lambda s, v: plan_groups.add_plan_to_group(s, v, group_id, loose)),
            (stranger, lambda s, v: plan_groups.remove_plan_from_group(s, v, group_id, ids["a"])),
            (stranger, lambda s, v: plan_groups.reorder_plans_in_group(s, v, group_id, [])),
            (stranger, lambda s, v: plan_groups.delete_plan_group(s, v, group_id)),
            (stranger, lambda s, v: plan_groups.update_plan_group(s, v, group_id, name="X")),
        ]
    mine = await make_group(db, viewer, "Mine")
    ops += [
        (viewer, lambda s, v: plan_groups.add_plan_to_group(s, v, "plg_nope", loose)),
        (viewer, lambda s, v: plan_groups.add_plan_to_group(s, v, mine, "plan_nope")),
        (viewer, lambda s, v: plan_groups.remove_plan_from_group(s, v, mine, ids["a"])),
    ]
    for who, op in ops:
        with pytest.raises(DomainError) as caught:
            await run(db, who, op)
        assert caught.value.code == "NOT_FOUND"
    assert await group_state(db, viewer, group_id) == [("a", 0), ("b", 1)]
    async with db.read() as session:
        assert await plans.get_plan(session, other_org, loose) is None
        assert await plans.get_plan(session, live, loose) is None
        assert await plans.get_plan_group(session, live, group_id) is None
        assert (await plans.get_plan(session, viewer, loose)) is not None


async def test_foreign_plan_cannot_join_my_group(db: Database) -> None:
    viewer = await new_viewer(db)
    other = await new_viewer(db)
    group_id = await make_group(db, viewer)
    theirs = await make_plan(db, other, "theirs")

    async def op(session: AsyncSession, v: Viewer) -> Any:
        return await plan_groups.add_plan_to_group(session, v, group_id, theirs.id)

    error = await expect_error(db, viewer, op, "NOT_FOUND")
    assert error.field == ["input", "planId"]
    assert await all_plan_rows(db, other) == [("theirs", None, None)]


async def test_group_description_keeps_line_breaks_and_bounds_fields(db: Database) -> None:
    viewer = await new_viewer(db)

    async def create(session: AsyncSession, v: Viewer) -> Any:
        return await plan_groups.create_plan_group(
            session, v, name=" Tiers ", description="Line one\nLine two"
        )

    group = (await run(db, viewer, create)).group
    assert (group.name, group.description, group.is_public) == (
        "Tiers",
        "Line one\nLine two",
        False,
    )
    bad_inputs = [
        {"name": ""},
        {"name": "x" * 201},
        {"name": "a\tb"},
        {"name": "ok", "description": "d" * 1001},
        {"name": "ok", "description": "bell\x07"},
    ]
    for fields in bad_inputs:

        async def op(session: AsyncSession, v: Viewer, fields: dict[str, Any] = fields) -> Any:
            return await plan_groups.create_plan_group(session, v, **fields)

        with pytest.raises(DomainError) as caught:
            await run(db, viewer, op)
        assert caught.value.code == "VALIDATION_ERROR", fields
    async with db.read() as session:
        page = await plans.list_plan_groups(session, viewer, first=10, after=None)
    assert [row.group.name for row in page.rows] == ["Tiers"]


async def test_group_is_capped_at_max_plans(db: Database) -> None:
    viewer = await new_viewer(db)
    group_id = await make_group(db, viewer)

    async def fill(session: AsyncSession, v: Viewer) -> Any:
        for index in range(plan_groups.MAX_PLANS_PER_GROUP):
            plan = await plans.create_plan(
                session, v, name=f"P{index}", code=f"p{index}", currencies=["usd"]
            )
            await plan_groups.add_plan_to_group(session, v, group_id, plan.id, 0)

    await run(db, viewer, fill)
    extra = await make_plan(db, viewer, "extra")

    async def op(session: AsyncSession, v: Viewer) -> Any:
        return await plan_groups.add_plan_to_group(session, v, group_id, extra.id)

    await expect_error(db, viewer, op, "VALIDATION_ERROR")
    state = await group_state(db, viewer, group_id)
    assert orders(state) == list(range(plan_groups.MAX_PLANS_PER_GROUP))
    assert state[0][0] == f"p{plan_groups.MAX_PLANS_PER_GROUP - 1}"
