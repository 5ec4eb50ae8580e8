"""``resolvers.live.live_events`` on a throwaway schema (``tests/support/live_schema.py``; the
product schema gets its subscription fields once the payout, payout account and balance types
exist)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from api.composition import build_services
from api.settings import Settings
from resolvers.context import Context
from services.infra.database import Database
from services.infra.event_bus import LiveBus
from services.infra.event_streams import decode_event_cursor, encode_event_cursor, log_head
from services.organizations.api_keys import Viewer
from tests.support.live import live_database, wait_until_live
from tests.support.live_schema import SCHEMA, SUBSCRIBE, rename
from tests.support.orgs import TestOrg


@pytest.fixture
async def live(database_url: str) -> AsyncIterator[tuple[Database, LiveBus]]:
    async with live_database(database_url, "memory") as pair:
        yield pair


def context(db: Database, org: TestOrg | None, livemode: bool = False) -> Context:
    viewer = (
        Viewer(org.id, org.name, "US", "usd", livemode, "key_test") if org is not None else None
    )
    services = build_services(Settings(database_url=db.url), db)
    return Context(db=db, request_id="req_test", services=services, viewer=viewer)


async def subscribe(db: Database, org: TestOrg | None, after: str | None = None) -> Any:
    return await SCHEMA.subscribe(
        SUBSCRIBE, variable_values={"after": after}, context_value=context(db, org)
    )


async def test_each_event_carries_the_object_as_read_after_that_event(
    live: tuple[Database, LiveBus], org: TestOrg
) -> None:
    db, bus = live
    stream = await subscribe(db, org)
    first = asyncio.create_task(anext(stream))
    await wait_until_live(bus, org.id)
    await rename(db, org.id, "Renamed once")
    await rename(db, org.id, "Renamed once", livemode=True)  # the other mode: never shown
    one = (await first).data["organizationUpdated"]
    await rename(db, org.id, "Renamed twice")
    two = (await anext(stream)).data["organizationUpdated"]
    await stream.aclose()

    assert one["type"] == "organization.renamed"
    assert one["organization"] == {"id": org.id, "name": "Renamed once"}
    assert two["organization"]["name"] == "Renamed twice"
    assert decode_event_cursor(two["cursor"]) > decode_event_cursor(one["cursor"])
    assert one["occurredAt"].endswith("+00:00")


async def test_resuming_with_a_cursor_replays_what_was_missed(
    live: tuple[Database, LiveBus], org: TestOrg
) -> None:
    db, _ = live
    await rename(db, org.id, "A")
    seen = encode_event_cursor(await log_head(db, org.id))
    await rename(db, org.id, "B")
    await rename(db, org.id, "C")
    stream = await subscribe(db, org, after=seen)
    replayed = [(await anext(stream)).data["organizationUpdated"] for _ in range(2)]
    await stream.aclose()
    assert [decode_event_cursor(e["cursor"]) for e in replayed] == [
        decode_event_cursor(seen) + 1,
        decode_event_cursor(seen) + 2,
    ]
    # Re-read when delivered: both show the name as it is now.
    assert [e["organization"]["name"] for e in replayed] == ["C", "C"]


@pytest.mark.parametrize("after", ["garbage", encode_event_cursor(10**12)])
async def test_bad_cursor_is_a_bad_user_input_error_before_any_event(
    live: tuple[Database, LiveBus], org: TestOrg, after: str
) -> None:
    db, bus = live
    (result,) = [r async for r in await subscribe(db, org, after=after)]  # one error, then done
    assert result.data is None
    assert result.errors[0].extensions == {"code": "BAD_USER_INPUT"}
    assert bus.hub.subscriber_count == 0


async def test_subscription_without_a_viewer_is_unauthenticated(
    live: tuple[Database, LiveBus],
) -> None:
    db, _ = live
    (result,) = [r async for r in await subscribe(db, None)]
    assert result.data is None
    assert result.errors[0].extensions == {"code": "UNAUTHENTICATED"}
