"""Throttled logging for failures a client can cause at will (malformed bodies, bad cursors,
disconnects mid-body...) and for a database outage that every request would report: one line
without a traceback, at most a burst per interval per kind, so nobody can flood the log. What
was held back is counted on the next line of that kind."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass


@dataclass
class _Window:
    started: float
    logged: int = 0
    suppressed: int = 0


class ThrottledLog:
    def __init__(
        self, logger: str, level: int, *, burst: int = 10, interval_seconds: float = 60.0
    ) -> None:
        self.log = logging.getLogger(logger)
        self.level = level
        self.burst = burst
        self.interval = interval_seconds
        self._windows: dict[str, _Window] = {}

    def __call__(self, kind: str, detail: str, **extra: object) -> None:
        now = time.monotonic()
        window = self._windows.get(kind)
        if window is None or now - window.started >= self.interval:
            held_back = window.suppressed if window is not None else 0
            window = self._windows[kind] = _Window(started=now)
            if held_back:
                extra["suppressed_since_last"] = held_back
        if window.logged >= self.burst:
            window.suppressed += 1
            return
        window.logged += 1
        self.log.log(self.level, "%s: %s", kind, detail, extra={"kind": kind, **extra})


# A client's mistake is not a server error: WARNING, never a traceback.
client_error = ThrottledLog("payouts.client_errors", logging.WARNING)
# The database (or another dependency) is unreachable: every request would say so.
dependency_down = ThrottledLog("payouts.unavailable", logging.ERROR, burst=3)
