"""The platform's API versions (``commet-version`` request header), as far as they shape our
responses.

Versions before 2026-07-24 (``@commet/node`` 7.x pins 2026-07-11) list resources as a bare array
in ``data`` with ``hasMore`` / ``nextCursor`` beside it, report ``alreadyExists`` on
verification and name plan-group membership objects ``plan_group``. From 2026-07-24 (the Python
SDK 9.x pins 2026-08-27) a list is a ``{"object": "list", ...}`` object inside ``data``,
verification reports ``outcome`` and the membership objects have names of their own. A missing
or unknown version means the newest, as on the platform.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HEADER = "commet-version"
CURRENT = "2026-08-27"
LIST_OBJECTS_SINCE = "2026-07-24"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class ApiVersion:
    name: str

    @property
    def legacy(self) -> bool:
        """The shapes of versions before 2026-07-24 (see the module docstring)."""
        return self.name < LIST_OBJECTS_SINCE


def resolve(header: str | None) -> ApiVersion:
    value = (header or "").strip()
    if not _DATE.match(value) or value > CURRENT:
        return ApiVersion(CURRENT)
    return ApiVersion(value)
