"""What must never reach a log, collected across the whole test run.

``remember_sensitive`` is called for every API key the fixtures mint (``tests/conftest.py``
``make_org``); tests call it for KYC values they send (id numbers, account numbers, ...).
Every server started through ``tests.support.live_server.start_server`` registers its log file
here. ``tests/e2e/test_log_hygiene.py`` (marked ``run_last``) searches those logs at the end.
"""

from __future__ import annotations

from pathlib import Path

SENSITIVE_VALUES: set[str] = set()
SERVER_LOGS: list[Path] = []


def remember_sensitive(*values: str) -> None:
    SENSITIVE_VALUES.update(v for v in values if v)
