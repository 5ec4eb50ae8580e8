"""Schema extensions of our own."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterator
from functools import cache, lru_cache
from typing import Any, Generic, TypeVar

from graphql import (
    BREAK,
    DocumentNode,
    GraphQLError,
    Node,
    StringValueNode,
    Visitor,
    parse,
    visit,
)
from strawberry.extensions import SchemaExtension

T = TypeVar("T")


class DocumentMemo(Generic[T]):
    """Values derived from a parsed document, remembered per document object.

    The parse cache hands out the same ``DocumentNode`` for the same query text, so a lookup by
    identity hits for every repeated query. Each entry holds its document, so an id is never
    reused for another document while remembered. Bounded: cleared when full.
    """

    def __init__(self, maxsize: int = 512) -> None:
        self.maxsize = maxsize
        self._entries: dict[tuple[int, Hashable], tuple[DocumentNode, T]] = {}

    def get(self, document: DocumentNode, key: Hashable, compute: Callable[[], T]) -> T:
        entry = self._entries.get((id(document), key))
        if entry is not None and entry[0] is document:
            return entry[1]
        value = compute()
        if len(self._entries) >= self.maxsize:
            self._entries.clear()
        self._entries[(id(document), key)] = (document, value)
        return value


def parse_for_keeps(query: str, **options: Any) -> DocumentNode:
    """Parse a document that will stay in memory: without the lexer's tokens.

    Every node's location points at its first and last token, and the tokens form one doubly
    linked chain over the whole text: a cached document kept its whole token stream alive, as
    reference cycles only the full garbage collection frees. Those long-lived objects made each
    full collection longer (measured under ``bench.fuzz_hostile``: gen-2 passes of 0.3-1.4 s
    holding the loop). Errors need only a location's offsets and source, which stay.
    """
    document = parse(query, **options)
    _drop_tokens(document)
    return document


def _drop_tokens(node: Node) -> None:
    stack: list[Any] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Node):
            loc = item.loc
            if loc is not None:
                loc.start_token = loc.end_token = None  # type: ignore[assignment]
            stack.extend(getattr(item, key) for key in item.keys)
        elif isinstance(item, tuple | list):
            stack.extend(item)


@cache
def _cached_parse(maxsize: int) -> Callable[..., DocumentNode]:
    return lru_cache(maxsize=maxsize)(parse_for_keeps)


class CachedParser(SchemaExtension):
    """A bounded, process-wide parse cache.

    Unlike strawberry's ``ParserCache`` it never raises from its hook: a hook that raises stops
    the other extensions' ``on_operation`` (so errors would go out unshaped). On a syntax error
    it leaves the document unset and strawberry parses again, reporting the error itself.
    """

    def __init__(self, maxsize: int = 512) -> None:
        self.parse = _cached_parse(maxsize)

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None:  # a trusted document, parsed at start
            yield
            return
        try:
            context.graphql_document = self.parse(context.query, **context.parse_options)
        except GraphQLError:
            context.graphql_document = None
        yield


NUL_MESSAGE = "String values must not contain the NUL character (U+0000)."
SURROGATE_MESSAGE = (
    "String values must not contain unpaired surrogates (U+D800 to U+DFFF): "
    "send valid Unicode text."
)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class RejectNulCharacters(SchemaExtension):
    """Refuses any string argument or variable holding U+0000 or an unpaired surrogate, before
    execution.

    PostgreSQL text cannot store NUL and no UTF-8 text can hold a lone surrogate (the drivers
    raise, which would surface as INTERNAL); no name, id, key or URL needs either. Refusing them
    at the edge keeps SQLite and PostgreSQL alike.
    """

    def on_validate(self) -> Iterator[None]:
        # Before ``GatedValidation`` (which skips a document already refused): cheap, bounded.
        context = self.execution_context
        if context.pre_execution_errors is None:
            found = _unstorable_in(context.variables) or _unstorable_in_document(
                context.graphql_document
            )
            if found is not None:
                message = NUL_MESSAGE if found == "\x00" else SURROGATE_MESSAGE
                error = GraphQLError(message, extensions={"code": "BAD_USER_INPUT"})
                context.pre_execution_errors = [error]
        yield


def _unstorable_in(value: object) -> str | None:
    """The first unstorable character in a JSON-like value (depth bounded at the edge)."""
    if isinstance(value, str):
        match = _UNSTORABLE.search(value)
        return None if match is None else match.group()
    if isinstance(value, dict):
        for key, item in value.items():
            found = _unstorable_in(key) or _unstorable_in(item)
            if found is not None:
                return found
        return None
    if isinstance(value, list | tuple):
        for item in value:
            found = _unstorable_in(item)
            if found is not None:
                return found
    return None


class _NulFinder(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: str | None = None

    def enter_string_value(self, node: StringValueNode, *_: Any) -> Any:
        match = _UNSTORABLE.search(node.value)
        if match is not None:
            self.found = match.group()
            return BREAK
        return None


_NUL_IN_DOCUMENT: DocumentMemo[str | None] = DocumentMemo()


def _unstorable_in_document(document: DocumentNode | None) -> str | None:
    if document is None:
        return None
    return _NUL_IN_DOCUMENT.get(document, None, lambda: _find_nul(document))


def _find_nul(document: DocumentNode) -> str | None:
    finder = _NulFinder()
    visit(document, finder)
    return finder.found
