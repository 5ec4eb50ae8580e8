"""The GraphQL ``UserErrorCode`` enum is the services' ``ErrorCode``: they cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

from api.schema import build_schema
from api.settings import Settings
from resolvers.errors import user_errors_from
from services.errors import DomainError, ErrorCode, ValidationFailed

ROOT = Path(__file__).resolve().parents[2]


def schema_enum_values(sdl: str, name: str) -> list[str]:
    match = re.search(r"enum " + name + r" \{(.*?)\}", sdl, re.S)
    assert match is not None, f"no enum {name} in the schema"
    return re.findall(r"^\s+([A-Z_]+)\s*$", match.group(1), re.M)


def test_the_schema_enum_lists_every_service_code_in_order() -> None:
    sdl = build_schema(Settings()).as_str()
    assert schema_enum_values(sdl, "UserErrorCode") == [code.name for code in ErrorCode]


def test_the_committed_schema_has_the_same_codes() -> None:
    sdl = (ROOT / "schema.graphql").read_text()
    assert schema_enum_values(sdl, "UserErrorCode") == [code.value for code in ErrorCode]


def test_every_code_maps_to_a_user_error() -> None:
    errors = [DomainError(code, f"{code} happened", ["amount"]) for code in ErrorCode]
    mapped = user_errors_from(ValidationFailed(errors))
    assert [(e.code, e.message, e.field) for e in mapped] == [
        (code, f"{code} happened", ["amount"]) for code in ErrorCode
    ]


def test_services_raise_codes_only_through_the_enum() -> None:
    # A free string ("SOME_CODE") would pass at import and fail only when raised.
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in (ROOT / "services").rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r'(DomainError|__init__)\(\s*"[A-Z_]+"', line)
    ]
    assert offenders == []
