"""Parsed documents and everything derived from them, kept under one budget of objects.

Every repeated query is served from here: its parsed document, and per document what each check
derived from it (bounds, cost, scopes, validation errors, acceptance for the fast path). The
derived values live on the document's record and are evicted with it, so the cache alone bounds
how much of the heap documents hold.

Why a budget of objects rather than of entries: the garbage collector's full pass visits every
tracked object, and each AST node brings several (itself, its location, the tuples of its
children, the tokens its location points at). Under
``bench.fuzz_hostile`` the caches of the time, each bounded by entries and each holding its own
documents, kept a few hundred thousand such objects alive, and each full pass over them held
the event loop 0.3-1.6 s. Documents are trees once their token chain is unlinked, so an evicted
document is freed by reference counting, without a collection.
"""

from __future__ import annotations

import gc
import re
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Generic, TypeVar

from graphql import DocumentNode, GraphQLError, Token
from graphql.language.parser import Parser, nested_too_deeply_error

T = TypeVar("T")

# Values remembered per document: a few per check, more only for costs that vary with page-size
# variables. Cleared when full, like any memo here.
MAX_MEMOS_PER_DOCUMENT = 64
# Tracked objects a document holds per token of its text, a measured upper bound: about one
# node per token, each node three objects (itself, its attribute dict, its location), plus the
# tokens the locations still point at.
_OBJECTS_PER_TOKEN = 6


class DocumentRecord:
    __slots__ = ("document", "memos", "weight")

    def __init__(self, document: DocumentNode, weight: int) -> None:
        self.document = document
        self.weight = weight
        self.memos: dict[Hashable, Any] = {}


# The records of every cache, by the id of their document: a memo finds its document's record
# here. Each record holds its document, so an id is never reused while it is registered.
_RECORDS: dict[int, DocumentRecord] = {}


def parse_for_keeps(query: str, **options: Any) -> DocumentNode:
    """Parse a document that will stay in memory: with its token chain unlinked.

    Every node's location points at its first and last token, and the tokens form one doubly
    linked chain over the whole text: a kept document kept its whole token stream alive, as
    reference cycles only the full garbage collection frees. Unlinked, the tokens are plain
    values and the document a tree, freed by reference counting. Errors need only a location's
    offsets and source, which stay.
    """
    return _parse_weighed(query, options)[0]


def _parse_weighed(query: str, options: dict[str, Any]) -> tuple[DocumentNode, int]:
    with collector_paused():
        parser = Parser(query, **options)
        try:
            document = parser.parse_document()
        except RecursionError:
            error: GraphQLError = nested_too_deeply_error(parser)
        except GraphQLError as raised:
            error = raised
        else:
            start = document.loc.start_token if document.loc is not None else None
            return document, _unlink_tokens(start) * _OBJECTS_PER_TOKEN
        # A refused text: its tokens (up to the limit) would stay a cycle, held by the error's
        # frames, until a collection found them.
        _unlink_tokens(parser._lexer.token, backwards=True)
        raise error.with_traceback(None)


@contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection during one bounded, synchronous step over a document (parsing,
    validation, the bounds, the cost).

    Such a step allocates tens of thousands of objects, among them reference cycles (graphql-core's
    visitors and validation context) that die when it returns. A collection in the middle saw
    them alive and promoted them; measured under ``bench.fuzz_hostile``, thousands of them a
    minute reached the oldest generation, where only a full collection (200-400 ms of loop time
    over the heap) frees them. Paused, they are dead by the next young collection, which frees
    them at the cost of a young one.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _unlink_tokens(token: Token | None, *, backwards: bool = False) -> int:
    """Unlinks a token chain from ``token`` on; returns how many tokens it had. (A walk of the
    chain, not of the tree: 1 ms for 2,000 tokens where the tree's walk took 12.)"""
    count = 0
    while token is not None:
        following = token.prev if backwards else token.next
        token.prev = token.next = None
        token = following
        count += 1
    return count


def pin(document: DocumentNode) -> DocumentNode:
    """Gives a document that lives as long as the process (a trusted document) a record that is
    never evicted, so what the checks derive from it is remembered too."""
    if id(document) not in _RECORDS:
        _RECORDS[id(document)] = DocumentRecord(document, 0)
    return document


OPERATION_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,127}$")


@lru_cache(maxsize=256)
def placeholder_document(operation_name: str | None) -> DocumentNode:
    """A document standing in for one refused before it was parsed (or that failed to parse).

    It holds the named operation, or strawberry answers "cannot get operation type" before the
    request's own error is seen.
    """
    if operation_name is not None and OPERATION_NAME.match(operation_name):
        return pin(parse_for_keeps(f"query {operation_name} {{ __typename }}"))
    return pin(parse_for_keeps("query { __typename }"))


class DocumentCache:
    """Least recently used documents, by query text and parse options, within ``max_objects``
    tracked objects and ``max_entries`` documents. A document heavier than half the budget is
    parsed for its request and not kept."""

    def __init__(self, *, max_objects: int, max_entries: int) -> None:
        self.max_objects = max_objects
        self.max_entries = max_entries
        self.weight = 0
        self._entries: OrderedDict[Hashable, DocumentRecord] = OrderedDict()

    def cached(self, query: str, **options: Any) -> DocumentNode | None:
        """The document kept for this text, or None: never parses."""
        return self._kept(_key(query, options))

    def parse(self, query: str, **options: Any) -> DocumentNode:
        """The parsed document (raises ``GraphQLError`` for a syntax error or too many tokens)."""
        key = _key(query, options)
        found = self._kept(key)
        if found is not None:
            return found
        document, weight = _parse_weighed(query, options)
        if weight * 2 > self.max_objects or self.max_entries < 1:
            return document
        record = DocumentRecord(document, weight)
        self._entries[key] = record
        _RECORDS[id(document)] = record
        self.weight += weight
        while self.weight > self.max_objects or len(self._entries) > self.max_entries:
            self._evict()
        return document

    def _kept(self, key: Hashable) -> DocumentNode | None:
        record = self._entries.get(key)
        if record is None:
            return None
        self._entries.move_to_end(key)
        return record.document

    def _evict(self) -> None:
        _, record = self._entries.popitem(last=False)
        self.weight -= record.weight
        if _RECORDS.get(id(record.document)) is record:
            del _RECORDS[id(record.document)]

    def __len__(self) -> int:
        return len(self._entries)


def _key(query: str, options: dict[str, Any]) -> Hashable:
    return (query, *sorted(options.items())) if options else query


class DocumentMemo(Generic[T]):
    """One kind of value derived from a document, remembered on the document's record.

    A document without a record (too heavy to keep, or already evicted while its request runs)
    gets its value computed each time: correct, and bounded by the document's size.
    """

    def get(self, document: DocumentNode, key: Hashable, compute: Callable[[], T]) -> T:
        memos = _memos_of(document)
        if memos is None:
            return compute()
        try:
            return memos[(self, key)]
        except KeyError:
            pass
        value = compute()
        _remember(memos, (self, key), value)
        return value

    def peek(self, document: DocumentNode, key: Hashable) -> T | None:
        memos = _memos_of(document)
        return None if memos is None else memos.get((self, key))

    def put(self, document: DocumentNode, key: Hashable, value: T) -> None:
        memos = _memos_of(document)
        if memos is not None:
            _remember(memos, (self, key), value)


def _memos_of(document: DocumentNode) -> dict[Hashable, Any] | None:
    record = _RECORDS.get(id(document))
    return None if record is None or record.document is not document else record.memos


def _remember(memos: dict[Hashable, Any], key: Hashable, value: object) -> None:
    if len(memos) >= MAX_MEMOS_PER_DOCUMENT:
        memos.clear()
    memos[key] = value
