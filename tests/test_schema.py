from __future__ import annotations

from pathlib import Path

from api.schema import build_schema, export_sdl
from resolvers.descriptions import undescribed, unknown_texts

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_committed_schema_matches_code() -> None:
    assert SCHEMA_FILE.read_text() == export_sdl(), (
        "schema.graphql is stale: run `make schema` and commit the result"
    )


def test_every_schema_member_has_a_description() -> None:
    schema = build_schema()._schema
    assert undescribed(schema) == []
    assert unknown_texts(schema) == [], "descriptions for names the schema no longer has"
