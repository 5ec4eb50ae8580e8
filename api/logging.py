"""Logging set-up shared by the server and the CLI."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if any(getattr(h, "_payouts", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler._payouts = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
