from __future__ import annotations

import pytest
from graphql import FloatValueNode, IntValueNode, StringValueNode

from resolvers.scalars import MAX_SAFE_INTEGER, SCALAR_MAP, Cents

CENTS = SCALAR_MAP[Cents]


@pytest.mark.parametrize("value", [0, 1000, -5, MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER])
def test_cents_accepts_safe_integers(value: int) -> None:
    assert CENTS.parse_value(value) == value
    assert CENTS.serialize(value) == value


@pytest.mark.parametrize("value", [1.5, 1000.0, "1000", float("nan"), True, None, 2**53, -(2**53)])
def test_cents_rejects_non_integers_and_unsafe_range(value: object) -> None:
    with pytest.raises(ValueError, match="Cents"):
        CENTS.parse_value(value)


def test_cents_literal_must_be_int_node() -> None:
    assert CENTS.parse_literal(IntValueNode(value="1234")) == 1234
    for node in (FloatValueNode(value="12.5"), StringValueNode(value="12")):
        with pytest.raises(ValueError, match="Cents"):
            CENTS.parse_literal(node)
    with pytest.raises(ValueError, match="Cents"):
        CENTS.parse_literal(IntValueNode(value=str(2**53)))
