"""Custom scalars: ``Cents`` (integer minor units, JSON-safe range)."""

from __future__ import annotations

from typing import Any, NewType

import strawberry
from graphql import IntValueNode, ValueNode

MAX_SAFE_INTEGER = 2**53 - 1

Cents = NewType("Cents", int)


def _checked(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"Cents must be an integer number of minor units, got {value!r}")
    if abs(value) > MAX_SAFE_INTEGER:
        raise ValueError("Cents must be within ±(2^53−1)")
    return value


def _parse_literal(node: ValueNode, _variables: Any = None) -> int:
    if not isinstance(node, IntValueNode):
        raise ValueError("Cents must be an integer literal")
    return _checked(int(node.value))


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
