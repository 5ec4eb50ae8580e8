"""The limit rules stay in force while repeated queries are served from the document cache, and
what the checks derive from a document lives and dies with it."""

from __future__ import annotations

import gc
import weakref

import pytest
from graphql import parse

from api import document_gate
from api.document_cache import DocumentCache, DocumentMemo, parse_for_keeps, pin
from api.schema import build_schema
from api.settings import Settings


async def test_depth_limit_rejects_deep_query_when_validation_is_cached() -> None:
    schema = build_schema(Settings(max_query_depth=1))
    for _ in range(2):
        result = await schema.execute("{ viewer { organization { id } } }")
        assert result.errors is not None
        assert "exceeds maximum operation depth" in result.errors[0].message


async def test_alias_limit_rejects_many_aliases() -> None:
    schema = build_schema(Settings(max_query_aliases=1))
    result = await schema.execute("{ a: __typename b: __typename }")
    assert result.errors is not None
    assert "aliases" in result.errors[0].message


async def test_repeated_query_is_parsed_and_validated_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    schema = build_schema(Settings())
    validations: list[object] = []
    real = document_gate.validate_document

    def counting(*args: object) -> object:
        validations.append(args[1])
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(document_gate, "validate_document", counting)
    for _ in range(3):
        result = await schema.execute("{ __typename }")
        assert result.errors is None
    assert len(validations) == 1
    assert len(schema.documents) == 1  # type: ignore[attr-defined]


async def test_a_syntax_error_is_reported_from_one_parse() -> None:
    schema = build_schema(Settings())
    result = await schema.execute("query Named { viewer {", operation_name="Named")
    assert result.errors is not None
    assert result.errors[0].message.startswith("Syntax Error")
    assert result.errors[0].locations is not None
    too_long = "{ " + "__typename " * 3000 + "}"
    result = await schema.execute(too_long)
    assert result.errors is not None
    assert "more than" in result.errors[0].message and "tokens" in result.errors[0].message
    assert len(schema.documents) == 0  # type: ignore[attr-defined]


def test_cache_keeps_the_most_recent_documents_within_its_object_budget() -> None:
    one = parse_for_keeps("{ a }")
    weight = _weight_of("{ a }")
    cache = DocumentCache(max_objects=weight * 4, max_entries=100)
    texts = ["{ a }", "{ b }", "{ c }", "{ d }", "{ e }"]
    documents = [cache.parse(text) for text in texts]
    assert len(cache) == 4 and cache.weight == weight * 4
    assert cache.parse("{ e }") is documents[4]  # kept
    assert cache.parse("{ a }") is not documents[0]  # the oldest was evicted
    assert cache.parse("{ b }") is not documents[1]  # then "b", the least recently used
    assert one is not documents[0]


def test_cache_bounds_its_entries_and_skips_a_document_heavier_than_a_quarter() -> None:
    cache = DocumentCache(max_objects=10_000, max_entries=2)
    for text in ("{ a }", "{ b }", "{ c }"):
        cache.parse(text)
    assert len(cache) == 2
    heavy = "{ " + " ".join(f"f{i}" for i in range(2_000)) + " }"
    assert cache.parse(heavy) is not cache.parse(heavy)
    assert len(cache) == 2


def test_memos_live_on_the_document_record_and_go_with_it() -> None:
    cache = DocumentCache(max_objects=10_000, max_entries=1)
    memo: DocumentMemo[int] = DocumentMemo()
    calls: list[str] = []

    def compute(value: int) -> int:
        calls.append("computed")
        return value

    first = cache.parse("{ a }")
    assert memo.get(first, "k", lambda: compute(1)) == 1
    assert memo.get(first, "k", lambda: compute(2)) == 1  # remembered
    assert memo.get(first, "other", lambda: compute(3)) == 3  # another key
    cache.parse("{ b }")  # evicts "{ a }" and its memos
    assert memo.get(first, "k", lambda: compute(4)) == 4  # no record: computed each time
    assert memo.peek(first, "k") is None
    assert calls == ["computed"] * 3


def test_an_evicted_document_is_freed_without_a_garbage_collection() -> None:
    cache = DocumentCache(max_objects=10_000, max_entries=1)
    document = cache.parse("query Q($a: Int) { a(x: $a) { b c ... on T { d } } }")
    DocumentMemo[int]().put(document, "k", 1)
    ref = weakref.ref(document)
    del document
    gc.disable()
    try:
        cache.parse("{ other }")
        assert ref() is None  # a tree without its token chain: freed by reference counting
    finally:
        gc.enable()


def test_pinned_documents_keep_their_memos() -> None:
    document = pin(parse_for_keeps("{ pinned }"))
    memo: DocumentMemo[str] = DocumentMemo()
    assert memo.get(document, None, lambda: "first") == "first"
    assert memo.get(document, None, lambda: "second") == "first"
    unkept = parse("{ pinned }")
    assert memo.get(unkept, None, lambda: "third") == "third"


def _weight_of(text: str) -> int:
    cache = DocumentCache(max_objects=10**9, max_entries=10)
    cache.parse(text)
    return cache.weight
