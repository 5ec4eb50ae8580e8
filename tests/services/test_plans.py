"""Creating plans: validation, normalization, code uniqueness per organization and mode."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from services.errors import DomainError
from services.infra.database import Database
from services.organizations.api_keys import Viewer
from services.pagination import encode_cursor
from services.plans import service as plans
from tests.conftest import make_org


async def new_viewer(db: Database, *, livemode: bool = False) -> Viewer:
    org = await make_org(db, f"Plans {uuid.uuid4().hex[:6]}")
    return Viewer(org.id, org.name, "US", "usd", livemode, "key_test")


async def create(db: Database, viewer: Viewer, **fields: Any) -> Any:
    values = {"name": "Pro", "code": "pro", "currencies": ["usd"], **fields}
    async with db.transaction() as session:
        return await plans.create_plan(session, viewer, **values)


async def count_plans(db: Database, viewer: Viewer) -> int:
    async with db.read() as session:
        return len((await plans.list_plans(session, viewer, first=100, after=None)).rows)


async def test_create_plan_normalizes_name_and_currencies(db: Database) -> None:
    viewer = await new_viewer(db)
    plan = await create(db, viewer, name="  Pro  ", currencies=["USD", "eur", "usd"])
    assert plan.id.startswith("plan_")
    assert (plan.name, plan.code, plan.currency_list) == ("Pro", "pro", ["eur", "usd"])
    assert (plan.organization_id, plan.livemode) == (viewer.organization_id, False)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "bad\x00name"}, "name"),
        ({"name": "two\nlines"}, "name"),
        ({"name": "evil\u202etxt.exe"}, "name"),
        ({"code": ""}, "code"),
        ({"code": "Pro"}, "code"),
        ({"code": "pro-plan"}, "code"),
        ({"code": "pro\n"}, "code"),
        ({"code": "p" * 65}, "code"),
        ({"currencies": []}, "currencies"),
        ({"currencies": ["usd", "xyz"]}, "currencies"),
        ({"currencies": ["us"]}, "currencies"),
        ({"currencies": ["xau"]}, "currencies"),
        ({"currencies": ["usd"] * 51}, "currencies"),
    ],
)
async def test_create_plan_rejects_bad_input(
    db: Database, fields: dict[str, Any], field: str
) -> None:
    viewer = await new_viewer(db)
    with pytest.raises(DomainError) as caught:
        await create(db, viewer, **fields)
    assert caught.value.code == "VALIDATION_ERROR"
    assert caught.value.field == ["input", field]
    assert await count_plans(db, viewer) == 0


async def test_code_is_unique_per_organization_and_mode(db: Database) -> None:
    viewer = await new_viewer(db)
    live = Viewer(viewer.organization_id, viewer.organization_name, "US", "usd", True, "k")
    other = await new_viewer(db)
    await create(db, viewer, code="pro")
    with pytest.raises(DomainError) as caught:
        await create(db, viewer, code="pro", name="Other")
    assert caught.value.code == "DUPLICATE"
    assert caught.value.field == ["input", "code"]
    assert await count_plans(db, viewer) == 1
    await create(db, live, code="pro")
    await create(db, other, code="pro")
    assert await count_plans(db, live) == 1
    assert await count_plans(db, other) == 1


async def test_list_plans_pages_with_keyset_cursors(db: Database) -> None:
    viewer = await new_viewer(db)
    for index in range(5):
        await create(db, viewer, code=f"p{index}")
    seen: list[str] = []
    after = None
    async with db.read() as session:
        while True:
            page = await plans.list_plans(session, viewer, first=2, after=after)
            seen += [row.code for row in page.rows]
            if not page.has_next_page:
                break
            after = encode_cursor(page.rows[-1].created_at, page.rows[-1].id)
    assert seen == ["p4", "p3", "p2", "p1", "p0"]
