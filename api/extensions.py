"""Schema extensions of our own."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from graphql import BREAK, DocumentNode, GraphQLError, StringValueNode, Visitor, visit
from strawberry.extensions import SchemaExtension

from api.document_cache import DocumentCache, DocumentMemo, placeholder_document


class CachedParser(SchemaExtension):
    """Parses through the schema's ``DocumentCache``.

    Unlike strawberry's ``ParserCache`` it never raises from its hook: a hook that raises stops
    the other extensions' ``on_operation`` (so errors would go out unshaped). A syntax error (or
    too many tokens) becomes the request's pre-execution error over a placeholder document, so
    the text is not parsed a second time by strawberry to report it: up to the token limit,
    that second parse doubled the cost of a refused document.
    """

    def __init__(self, documents: DocumentCache) -> None:
        self.documents = documents

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None or not context.query:
            yield  # a trusted document, parsed at start; or no query, which strawberry refuses
            return
        try:
            context.graphql_document = self.documents.parse(context.query, **context.parse_options)
        except GraphQLError as error:
            context.graphql_document = placeholder_document(context.operation_name)
            context.pre_execution_errors = [error]
        yield


NUL_MESSAGE = "String values must not contain the NUL character (U+0000)."
SURROGATE_MESSAGE = (
    "String values must not contain unpaired surrogates (U+D800 to U+DFFF): "
    "send valid Unicode text."
)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# What a document's text must hold for one of its string values to be unstorable: the character
# itself, or an escape sequence (\u0000, \uD800, \u{0}...), which only parsing resolves.
_MAYBE_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]|\\u")


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
            found = unstorable_in(context.variables) or _unstorable_in_document(
                context.graphql_document
            )
            if found is not None:
                message = NUL_MESSAGE if found == "\x00" else SURROGATE_MESSAGE
                error = GraphQLError(message, extensions={"code": "BAD_USER_INPUT"})
                context.pre_execution_errors = [error]
        yield


def unstorable_in(value: object) -> str | None:
    """The first unstorable character in a JSON-like value (depth bounded at the edge)."""
    if isinstance(value, str):
        match = _UNSTORABLE.search(value)
        return None if match is None else match.group()
    if isinstance(value, dict):
        for key, item in value.items():
            found = unstorable_in(key) or unstorable_in(item)
            if found is not None:
                return found
        return None
    if isinstance(value, list | tuple):
        for item in value:
            found = unstorable_in(item)
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
    if document.loc is not None and not _MAYBE_UNSTORABLE.search(document.loc.source.body):
        return None  # no walk of the tree: a regex over the text is ~100x cheaper
    return _NUL_IN_DOCUMENT.get(document, None, lambda: _find_nul(document))


def _find_nul(document: DocumentNode) -> str | None:
    finder = _NulFinder()
    visit(document, finder)
    return finder.found
