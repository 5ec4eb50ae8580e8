"""Logging shared by the server and the CLI: one JSON object per line, with the request id,
organization id and operation name of the request being served, and secrets redacted.

Redaction works on the finished line (message, extras and traceback alike): API keys
(``ck_test_…``/``ck_live_…``), webhook secrets (``whsec_…``), bearer tokens, long digit runs
(account, routing, tax and id numbers), SSN-shaped numbers and the configured secrets
themselves. Extras whose name says they are sensitive are dropped before formatting.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

REDACTED = "[REDACTED]"
_PATTERNS = (
    re.compile(r"\bck_(?:test|live)_[A-Za-z0-9]+"),
    re.compile(r"\bwhsec_[A-Za-z0-9+/=_-]+"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?<![\w.:-])\d{3}-\d{2}-\d{4}(?![\w-])"),
    re.compile(r"(?<![\w.:-])\d{8,}(?![\w])"),
)
_SENSITIVE_FIELDS = re.compile(
    r"(?i)(api_?key|secret|password|token|authorization|account_?number|routing|iban|"
    r"id_?number|tax_?id|ssn|date_?of_?birth|dob|document)"
)
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


@lru_cache(maxsize=1024)
def _is_sensitive(field_name: str) -> bool:
    return _SENSITIVE_FIELDS.search(field_name) is not None


@dataclass
class LogContext:
    """What the current request is; mutated as it becomes known (auth, operation)."""

    request_id: str | None = None
    organization_id: str | None = None
    operation: str | None = None


request_log_context: ContextVar[LogContext | None] = ContextVar("request_log_context", default=None)


# Cheap tests that must hold for the matching pattern to match anywhere (the SSN and digit-run
# patterns both start with: three digits, a digit or dash, two digits, a digit or dash, a digit).
_DIGITS_MAYBE = re.compile(r"\d{3}[-\d]\d{2}[-\d]\d")
_MAY_MATCH = (
    lambda text, lowered: "ck_" in text,
    lambda text, lowered: "whsec_" in text,
    lambda text, lowered: "bearer" in lowered,
    lambda text, lowered: _DIGITS_MAYBE.search(text) is not None,
    lambda text, lowered: _DIGITS_MAYBE.search(text) is not None,
)


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= 8}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        lowered = text.lower()
        for pattern, may_match in zip(_PATTERNS, _MAY_MATCH, strict=True):
            # Most lines hold none of them: a substring test is far cheaper than a regex scan.
            if may_match(text, lowered):
                text = pattern.sub(REDACTED, text)
                lowered = text.lower()
        return text


class JsonFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = request_log_context.get()
        if context is not None:
            entry["request_id"] = context.request_id
            entry["organization_id"] = context.organization_id
            entry["operation"] = context.operation
        for name, value in record.__dict__.items():
            if name in _STANDARD_ATTRS or name.startswith("_") or name in entry:
                continue
            entry[name] = REDACTED if _is_sensitive(name) else value
        if record.exc_info:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info))
        elif record.exc_text:
            entry["exception"] = record.exc_text
        line = self.redact(orjson.dumps(entry, default=str).decode())
        # The time is ours, not data: outside the redaction (its digits would wake the
        # digit patterns' pre-check on every line).
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        return f'{{"time":"{stamp}",{line[1:]}'  # line is never "{}": it holds the level


class RedactingTextFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


def configure_logging(
    level: str = "INFO", *, fmt: str = "json", secrets: Iterable[str] = ()
) -> None:
    """Installs one stderr handler on the root logger (once per process)."""
    root = logging.getLogger()
    if any(getattr(h, "_payouts", False) for h in root.handlers):
        return
    redact = Redactor(secrets)
    handler = logging.StreamHandler(sys.stderr)
    formatter = JsonFormatter(redact) if fmt == "json" else RedactingTextFormatter(redact)
    handler.setFormatter(formatter)
    handler._payouts = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn's loggers go through ours, except its access log (it would log query strings):
    # our request log replaces it, in a worker process too.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = name != "uvicorn.access"
