"""Case 6's receiver answers at once and counts (no timings asserted)."""

from __future__ import annotations

from starlette.testclient import TestClient

from bench.harness import discover
from bench.webhook_receiver import app


def test_receiver_counts_posts() -> None:
    with TestClient(app) as client:
        before = client.get("/count").json()["count"]
        assert client.post("/hook", content=b"{}").status_code == 200
        assert client.post("/hook", content=b"{}").text == "ok"
        assert client.get("/count").json()["count"] == before + 2


def test_case_six_is_discovered() -> None:
    assert discover()[6].title.startswith("outbound webhooks")
