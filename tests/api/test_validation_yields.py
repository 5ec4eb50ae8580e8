"""A document validated for its request lets the event loop run before its validation and
before its execution: parse, validation and execution of a large new document would otherwise
hold the loop in one tick (issue 17). A document validated before costs no extra tick."""

from __future__ import annotations

import asyncio

from api.schema import build_schema
from api.settings import Settings


async def ticks_during(work: asyncio.Future[object] | asyncio.Task[object]) -> int:
    ticks = 0
    while not work.done():
        ticks += 1
        await asyncio.sleep(0)
    return ticks - 1  # the tick that found it done


async def test_a_new_document_yields_to_the_loop_and_a_known_one_does_not() -> None:
    schema = build_schema(Settings())
    query = "{ first: __typename second: __typename }"

    new = asyncio.ensure_future(schema.execute(query))
    ticks_new = await ticks_during(new)
    assert new.result().errors is None

    known = asyncio.ensure_future(schema.execute(query))
    ticks_known = await ticks_during(known)
    assert known.result().errors is None

    assert ticks_new >= ticks_known + 2
