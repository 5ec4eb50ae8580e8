"""Plain selections (``api/plain_completion.py``) complete exactly as graphql-core completes them:
the same data, the same key order, the same errors with the same paths, the same nulls."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
import strawberry
from graphql import ExecutionResult, execute, parse
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from api.execution import PayoutsExecutionContext
from api.plain_completion import compile_object
from resolvers.scalars import SCALAR_MAP, Cents


class Color(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


ColorEnum = strawberry.enum(Color, name="Color")


@strawberry.interface
class Thing:
    id: strawberry.ID


@strawberry.type
class Item(Thing):
    name: str
    note: str | None
    amount: Cents
    color: ColorEnum  # type: ignore[valid-type]
    at: datetime
    maybe_at: datetime | None
    flag: bool
    tags: list[str]

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


@strawberry.type
class ItemEdge:
    cursor: str
    node: Item


@strawberry.type
class Page:
    edges: list[ItemEdge]
    total: int


def _item(**changes: Any) -> Item:
    values: dict[str, Any] = {
        "id": strawberry.ID("it_1"),
        "name": "one",
        "note": None,
        "amount": Cents(1250),
        "color": "red",
        "at": datetime(2026, 12, 3, 10, 0, 0, 123456, tzinfo=UTC),
        "maybe_at": None,
        "flag": True,
        "tags": ["a", "b"],
    }
    values.update(changes)
    item = object.__new__(Item)
    item.__dict__.update(values)  # also values the constructor's types would not allow
    return item


PAGES: dict[str, Any] = {}


@strawberry.type
class Query:
    @strawberry.field
    def page(self, name: str) -> Page:
        return PAGES[name]


SCHEMA = strawberry.Schema(query=Query, scalar_overrides=SCALAR_MAP)
FIELDS = "id name note amount color at maybeAt flag tags"


def _run(query: str, executor: type, name: str) -> str:
    result = execute(
        SCHEMA._schema,
        parse(query),
        variable_values={"name": name},
        executor_class=executor,
    )
    assert isinstance(result, ExecutionResult)
    return orjson.dumps(result.formatted).decode()


CASES: dict[str, Any] = {
    "plain": Page(
        edges=[
            ItemEdge(cursor="c1", node=_item()),
            ItemEdge(cursor="c2", node=_item(id="it_2", note="n", color=Color.BLUE, flag=False)),
        ],
        total=2,
    ),
    "empty": Page(edges=[], total=0),
    "null in a non-null leaf": Page(edges=[ItemEdge(cursor="c", node=_item(name=None))], total=1),
    "cents out of range": Page(edges=[ItemEdge(cursor="c", node=_item(amount=2**60))], total=1),
    "unknown enum value": Page(edges=[ItemEdge(cursor="c", node=_item(color="green"))], total=1),
    "a string where a bool goes": Page(edges=[ItemEdge(cursor="c", node=_item(flag="x"))], total=1),
    "an int where a string goes": Page(edges=[ItemEdge(cursor="c", node=_item(name=7))], total=1),
    "not an Item": Page(edges=[ItemEdge(cursor="c", node="oops")], total=1),  # type: ignore[arg-type]
    "a tuple for a list": Page(edges=[ItemEdge(cursor="c", node=_item(tags=("x",)))], total=1),
    "a generator for a list": lambda: Page(
        edges=[ItemEdge(cursor="c", node=_item(tags=(t for t in "xy")))], total=1
    ),
    "an exception as value": Page(
        edges=[ItemEdge(cursor="c", node=_item(note=ValueError("boom")))], total=1
    ),
}
QUERIES = [
    f"query ($name: String!) {{ page(name: $name) {{ total edges {{ cursor node {{ {FIELDS} }} }} }} }}",
    # aliases, repeated fields, __typename and a resolver field among plain ones
    "query ($name: String!) { page(name: $name) { edges { c: cursor cursor node { "
    "__typename a: amount amount name shout } } } }",
    "query ($name: String!) { page(name: $name) { edges { node { ... on Item { id color } "
    "...F } } } } fragment F on Thing { id }",
    "query ($name: String!) { page(name: $name) { edges { node { id @include(if: true) "
    "name @skip(if: true) } } } }",
]


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("query", QUERIES)
def test_same_result_as_graphql_core(name: str, query: str) -> None:
    case = CASES[name]
    PAGES[name] = case() if callable(case) else case  # a generator is read once per run
    plain = _run(query, PayoutsExecutionContext, name)
    PAGES[name] = case() if callable(case) else case
    assert plain == _run(query, StrawberryGraphQLCoreExecutionContext, name)


def test_which_selections_are_plain() -> None:
    """The fast plan is taken for attribute reads only: a resolver field, ``__typename`` or an
    interface-typed field leaves the selection to graphql-core."""

    def plan_for(selection: str) -> object:
        found: list[object] = []

        class Probe(PayoutsExecutionContext):
            def collect_and_execute_subfields(self, return_type: Any, fdl: Any, *args: Any) -> Any:
                if return_type.name == "Page":
                    grouped, _, _ = self.collect_subfields(return_type, fdl)
                    found.append(
                        compile_object(self.schema, return_type, grouped, self.collect_subfields)
                    )
                return super().collect_and_execute_subfields(return_type, fdl, *args)

        PAGES["plain"] = CASES["plain"]
        _run(f'{{ page(name: "plain") {{ {selection} }} }}', Probe, "plain")
        return found[0]

    assert plan_for(f"total edges {{ cursor node {{ {FIELDS} }} }}") is not None
    assert plan_for("edges { node { shout } }") is None
    assert plan_for("edges { node { __typename } }") is None
