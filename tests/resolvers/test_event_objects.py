"""One read per event per process, shared by concurrent subscribers; failures are not cached;
entries expire."""

from __future__ import annotations

import asyncio

import pytest

from resolvers.live.event_objects import EventObjectCache


async def test_concurrent_subscribers_share_one_read_per_event() -> None:
    cache = EventObjectCache()
    started = asyncio.Event()

    async def read() -> str:
        started.set()
        await asyncio.sleep(0.01)
        return "payout after evt_1"

    results = await asyncio.gather(*(cache.get(("evt_1", "load"), read) for _ in range(100)))
    assert results == ["payout after evt_1"] * 100
    assert cache.reads == 1
    assert await cache.get(("evt_2", "load"), read) == "payout after evt_1"
    assert cache.reads == 2  # another event is another read


async def test_failed_read_is_not_cached() -> None:
    cache = EventObjectCache()
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database went away")
        return "fresh"

    with pytest.raises(ConnectionError):
        await cache.get("evt", flaky)
    assert await cache.get("evt", flaky) == "fresh"
    assert calls == 2


async def test_entries_expire_and_the_cache_stays_bounded() -> None:
    cache = EventObjectCache(ttl=0.05, max_entries=10)

    async def read() -> int:
        return cache.reads

    for n in range(50):
        await cache.get(f"evt_{n}", read)
    assert len(cache._entries) <= 10
    await cache.get("evt_49", read)
    await asyncio.sleep(0.06)
    before = cache.reads
    await cache.get("evt_49", read)  # expired: read again
    assert cache.reads == before + 1
