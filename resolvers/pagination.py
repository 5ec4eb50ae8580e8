"""Relay connections (``edges { cursor node }``, ``pageInfo``) built from keyset pages."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

import strawberry

from resolvers.errors import bad_user_input
from resolvers.node import Node
from services.pagination import InvalidPageRequest, Page, encode_cursor

T = TypeVar("T")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo


@contextmanager
def page_request_errors() -> Iterator[None]:
    """A bad ``first`` or ``after`` is a request-level ``BAD_USER_INPUT``, not a 500."""
    try:
        yield
    except InvalidPageRequest as exc:
        raise bad_user_input(exc.message) from exc


def to_connection(page: Page[Any], convert: Callable[[Any], T]) -> Connection[T]:
    edges = [
        Edge(cursor=encode_cursor(row.created_at, row.id), node=convert(row)) for row in page.rows
    ]
    return _connection(page, edges)


def nodes_connection(page: Page[Any], nodes: Sequence[Node]) -> Connection[Any]:
    """``to_connection`` for nodes already converted from ``page.rows`` (one each, in order):
    the cursors come from the nodes' plain attributes, which are cheaper to read than a Core
    row's (50 cursors per page)."""
    edges = [Edge(cursor=encode_cursor(node.created_at, node.id), node=node) for node in nodes]
    return _connection(page, edges)


def _connection(page: Page[Any], edges: list[Edge[T]]) -> Connection[T]:
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
