"""What must never reach a log, collected across the whole test run.

``remember_sensitive`` is called for every API key the fixtures mint (``tests/conftest.py``
``make_org``); ``GraphQLClient`` remembers the values of KYC and bank fields in the variables
it sends (``remember_sensitive_fields``); tests may call ``remember_sensitive`` for others.
Every server started through ``tests.support.live_server.start_server`` registers its log file
here. ``tests/e2e/test_log_hygiene.py`` (marked ``run_last``) searches those logs at the end.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

SENSITIVE_VALUES: set[str] = set()
SERVER_LOGS: list[Path] = []


def remember_sensitive(*values: str) -> None:
    SENSITIVE_VALUES.update(v for v in values if v)


# GraphQL input fields holding KYC or bank data (tests/support/graphql.py remembers their values).
SENSITIVE_FIELD = re.compile(
    r"(?i)^(idNumber|taxId|ssn\w*|accountNumber|routingNumber|iban|dateOfBirth|dob|"
    r"documentUrl|apiKey|secret\w*)$"
)
MIN_LENGTH = 6  # shorter values (last4, ...) would match unrelated log text


def remember_sensitive_fields(value: Any) -> None:
    """Walks GraphQL variables and remembers every value under a sensitive field name."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str | int) and SENSITIVE_FIELD.match(str(key)):
                text = str(item)
                if len(text) >= MIN_LENGTH:
                    SENSITIVE_VALUES.add(text)
            else:
                remember_sensitive_fields(item)
    elif isinstance(value, list):
        for item in value:
            remember_sensitive_fields(item)


KEY_SHAPE = re.compile(r"ck_(?:test|live)_[A-Za-z0-9]{20,}")
WEBHOOK_SECRET_SHAPE = re.compile(r"whsec_[A-Za-z0-9+/=_-]{8,}")
# Console output of `payouts serve` (not log lines); a demo key is printed there on purpose.
ANNOUNCE_PREFIXES = (
    "Payouts GraphQL API:",
    "GraphiQL:",
    "Use an existing key",
    "Created 'Demo Organization'",
    "In GraphiQL set the header",
)


def scan_logs(paths: list[Path], secrets: set[str]) -> tuple[list[str], list[str]]:
    """(leaks, lines that are not JSON) in the given log files, as ``path:line: detail``."""
    leaks: list[str] = []
    not_json: list[str] = []
    for path in dict.fromkeys(paths):
        if not path.exists():
            continue
        in_demo_banner = False
        text = path.read_text(errors="replace")
        lines = text.splitlines()
        # A process killed mid-write (crash tests) may leave an unterminated last line.
        torn = len(lines) if text and not text.endswith("\n") else None
        for number, line in enumerate(lines, 1):
            where = f"{path}:{number}"
            if line.startswith(ANNOUNCE_PREFIXES) or (in_demo_banner and line.startswith("    ")):
                in_demo_banner = line.startswith("Created 'Demo Organization'") or (
                    in_demo_banner and line.startswith("    ")
                )
                continue
            in_demo_banner = False
            try:
                json.loads(line)
            except json.JSONDecodeError:
                if number != torn:
                    not_json.append(f"{where}: {line[:200]}")
            found = [s for s in secrets if s in line]
            found += KEY_SHAPE.findall(line) + WEBHOOK_SECRET_SHAPE.findall(line)
            if found:
                leaks.append(f"{where}: {found}")
    return leaks, not_json
