"""Custom scalars: ``Cents`` (integer minor units, JSON-safe range)."""

from __future__ import annotations

from typing import Any, NewType

import strawberry
from graphql import GraphQLError, IntValueNode, ValueNode

MAX_SAFE_INTEGER = 2**53 - 1

Cents = NewType("Cents", int)


def _checked(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"Cents must be an integer number of minor units, got {value!r}")
    if abs(value) > MAX_SAFE_INTEGER:
        raise ValueError("Cents must be within ±(2^53−1)")
    return value


class CentsLiteralError(GraphQLError, ValueError):
    """A bad literal: a client mistake (BAD_USER_INPUT), not an unexpected server error.

    graphql-core keeps a plain exception from ``parse_literal`` as the validation error's
    ``original_error``, which would make it look like a crash (INTERNAL)."""


def _parse_literal(node: ValueNode, _variables: Any = None) -> int:
    if not isinstance(node, IntValueNode):
        raise CentsLiteralError("Cents must be an integer literal")
    try:
        return _checked(int(node.value))
    except ValueError as exc:
        raise CentsLiteralError(str(exc)) from None


SCALAR_MAP: dict[object, Any] = {
    Cents: strawberry.scalar(
        name="Cents",
        description=(
            "An amount of money in integer minor units (cents), within ±(2^53−1). "
            "Floats, strings and NaN are rejected."
        ),
        serialize=_checked,
        parse_value=_checked,
        parse_literal=_parse_literal,
    )
}
