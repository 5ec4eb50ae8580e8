"""Case 6's receiver answers at once and counts (no timings asserted)."""

from __future__ import annotations

import httpx

from bench.harness import discover
from bench.webhook_receiver import app


async def test_receiver_counts_posts() -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        before = (await client.get("/count")).json()["count"]
        assert (await client.post("/hook", content=b"{}")).status_code == 200
        assert (await client.post("/hook", content=b"{}")).text == "ok"
        assert (await client.get("/count")).json()["count"] == before + 2


def test_case_six_is_discovered() -> None:
    assert discover()[6].title.startswith("outbound webhooks")
