"""Schema extensions of our own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache, lru_cache
from typing import Any

from graphql import GraphQLError, parse
from strawberry.extensions import SchemaExtension


@cache
def _cached_parse(maxsize: int) -> Callable[..., Any]:
    return lru_cache(maxsize=maxsize)(parse)


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
        try:
            context.graphql_document = self.parse(context.query, **context.parse_options)
        except GraphQLError:
            context.graphql_document = None
        yield
