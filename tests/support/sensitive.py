"""What must never reach a log, collected across the whole test run.

``remember_sensitive`` is called for every API key the fixtures mint (``tests/conftest.py``
``make_org``); ``GraphQLClient`` remembers the values of KYC and bank fields in the variables
it sends (``remember_sensitive_fields``); tests may call ``remember_sensitive`` for others.
Every server started through ``tests.support.live_server.start_server`` registers its log file
here. ``tests/e2e/test_log_hygiene.py`` (marked ``run_last``) searches those logs at the end.
"""

from __future__ import annotations

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
