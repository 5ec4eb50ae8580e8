"""Schema extensions of our own, run through the real schema (no server needed: the refusals
happen before any resolver runs)."""

from __future__ import annotations

from types import SimpleNamespace

from api.extensions import NUL_MESSAGE
from api.schema import build_schema

GROUP = "query($id: ID!) { planGroup(id: $id) { id } }"


async def test_nul_character_in_a_variable_is_bad_user_input() -> None:
    result = await build_schema().execute(GROUP, variable_values={"id": "plg_\x00x"})
    assert result.data is None
    assert [(e.message, e.extensions) for e in result.errors or []] == [
        (NUL_MESSAGE, {"code": "BAD_USER_INPUT"})
    ]


async def test_nul_character_in_a_nested_input_literal_is_bad_user_input() -> None:
    query = 'mutation { createPlan(input: {name: "a\\u0000b", code: "x", currencies: ["usd"]}) { plan { id } } }'
    result = await build_schema().execute(query)
    assert result.data is None
    assert [e.extensions for e in result.errors or []] == [{"code": "BAD_USER_INPUT"}]


async def test_nul_check_lets_other_strings_through() -> None:
    # Without a key the resolver answers UNAUTHENTICATED: it ran, so the check let it pass.
    anonymous = SimpleNamespace(viewer=None, request_id=None)
    result = await build_schema().execute(
        GROUP, variable_values={"id": "plg_\\u0000 \x01"}, context_value=anonymous
    )
    assert [e.extensions for e in result.errors or []] == [{"code": "UNAUTHENTICATED"}]


async def test_nul_literal_is_refused_each_time_its_cached_document_is_reused() -> None:
    schema = build_schema()
    clean = 'mutation { createPlan(input: {name: "ab", code: "x", currencies: ["usd"]}) { plan { id } } }'
    dirty = clean.replace('"ab"', '"a\\u0000b"')
    anonymous = SimpleNamespace(viewer=None, request_id=None)
    for _ in range(2):  # the second round reuses the parsed documents and their checks
        refused = await schema.execute(dirty, context_value=anonymous)
        assert [e.extensions for e in refused.errors or []] == [{"code": "BAD_USER_INPUT"}]
        passed = await schema.execute(clean, context_value=anonymous)
        assert [e.extensions for e in passed.errors or []] == [{"code": "UNAUTHENTICATED"}]


async def test_every_spelling_of_an_unstorable_literal_is_refused() -> None:
    # The text is screened by a regex before the tree is walked: each escape form must still
    # reach the walk, and a raw character as well.
    schema = build_schema()
    anonymous = SimpleNamespace(viewer=None, request_id=None)
    for literal in ('"a\\u0000b"', '"a\\u{0}b"', '"a\\uD800b"', '"a\\udfffb"', '"a\x00b"'):
        query = f"query {{ planGroup(id: {literal}) {{ id }} }}"
        result = await schema.execute(query, context_value=anonymous)
        assert [e.extensions for e in result.errors or []] == [{"code": "BAD_USER_INPUT"}], literal
    block = 'query { planGroup(id: """a\\u0000b""") { id } }'  # no escapes in a block string
    result = await schema.execute(block, context_value=anonymous)
    assert [e.extensions for e in result.errors or []] == [{"code": "UNAUTHENTICATED"}]
