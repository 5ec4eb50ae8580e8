"""Fault injection for the crash tests: the one test hook, off unless a setting arms it.

The crash tests (``tests/e2e/test_crash_safety.py``) start servers with
``PAYOUTS_FAULT_KILL_AFTER_PAYOUT_COMMIT=true``; the composition root turns that into a
``Faults`` that kills the process (SIGKILL: no cleanup, like a power cut) when code reaches
the named point. Services only say where they are (``faults.reached(...)``); they never
decide to crash.
"""

from __future__ import annotations

import enum
import logging
import os
import signal
from dataclasses import dataclass

log = logging.getLogger(__name__)


class FaultPoint(enum.StrEnum):
    # Between a payout's commit and its provider call: the reconciler must finish it later.
    AFTER_PAYOUT_COMMIT = "after_payout_commit"


@dataclass(frozen=True, slots=True)
class Faults:
    kill_at: frozenset[FaultPoint] = frozenset()

    def reached(self, point: FaultPoint) -> None:
        if point in self.kill_at:
            log.critical("fault injection: killing the process at %s", point.value)
            os.kill(os.getpid(), signal.SIGKILL)


NO_FAULTS = Faults()
