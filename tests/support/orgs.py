from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TestOrg:
    __test__ = False  # not a test class

    id: str
    name: str
    test_key: str
    live_key: str
