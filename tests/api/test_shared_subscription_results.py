"""A change reaches every subscriber of its organization, and subscribers with the same
operation and variables share one execution of their selection (per process and event)."""

from __future__ import annotations

import asyncio
from typing import Any

from api.composition import build_services
from api.execution import SHARED_RESULTS
from api.settings import Settings
from resolvers.context import Context
from services.infra.database import Database
from services.organizations.api_keys import Viewer
from tests.conftest import make_org
from tests.support.live import live_database, wait_until_live
from tests.support.live_schema import SCHEMA, SUBSCRIBE, rename

NAME_ONLY = "subscription { organizationUpdated { organization { name } } }"


async def _subscribe(db: Database, viewer: Viewer, query: str) -> Any:
    services = build_services(Settings(database_url=db.url), db)
    context = Context(db=db, request_id="req_test", services=services, viewer=viewer)
    stream = await SCHEMA.subscribe(query, context_value=context)
    assert not isinstance(stream, Exception) and hasattr(stream, "__anext__"), stream
    return stream


async def test_subscribers_of_one_operation_share_one_execution_per_event(
    database_url: str,
) -> None:
    async with live_database(database_url, "memory") as (db, bus):
        org = await make_org(db)
        viewer = Viewer(org.id, org.name, "US", "usd", False, "key_test")
        same = [await _subscribe(db, viewer, SUBSCRIBE) for _ in range(5)]
        other = await _subscribe(db, viewer, NAME_ONLY)
        streams = [*same, other]
        pending = [asyncio.ensure_future(stream.__anext__()) for stream in streams]
        await wait_until_live(bus, org.id, count=len(streams))
        before = SHARED_RESULTS.reads
        await rename(db, org.id, "Renamed once")
        results = await asyncio.wait_for(asyncio.gather(*pending), 15)
        for stream in streams:
            await stream.aclose()
    assert all(not result.errors for result in results)
    names = {result.data["organizationUpdated"]["organization"]["name"] for result in results}
    assert names == {"Renamed once"}
    assert len({id(result.data) for result in results[:5]}) == 1  # one execution, five sends
    assert results[5].data == {"organizationUpdated": {"organization": {"name": "Renamed once"}}}
    assert SHARED_RESULTS.reads - before == 2  # one per distinct operation


async def test_other_variables_and_other_organizations_execute_apart(database_url: str) -> None:
    async with live_database(database_url, "memory") as (db, bus):
        first, second = await make_org(db, "First"), await make_org(db, "Second")
        viewers = [Viewer(o.id, o.name, "US", "usd", False, "key_test") for o in (first, second)]
        streams = [await _subscribe(db, viewer, SUBSCRIBE) for viewer in viewers]
        pending = [asyncio.ensure_future(stream.__anext__()) for stream in streams]
        for org in (first, second):
            await wait_until_live(bus, org.id)
        await rename(db, first.id, "First renamed")
        await rename(db, second.id, "Second renamed")
        results = await asyncio.wait_for(asyncio.gather(*pending), 15)
        for stream in streams:
            await stream.aclose()
    assert [r.data["organizationUpdated"]["organization"]["name"] for r in results] == [
        "First renamed",
        "Second renamed",
    ]
