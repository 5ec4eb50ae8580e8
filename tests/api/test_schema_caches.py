"""The limit rules stay in force while repeated queries are validated from the cache."""

from __future__ import annotations

from typing import Any

from strawberry.extensions.validation_cache import _get_validate_cache

from api.schema import build_schema
from api.settings import Settings


async def test_depth_limit_rejects_deep_query_when_validation_is_cached() -> None:
    schema = build_schema(Settings(max_query_depth=1, validation_cache_size=7))
    for _ in range(2):
        result = await schema.execute("{ viewer { organization { id } } }")
        assert result.errors is not None
        assert "exceeds maximum operation depth" in result.errors[0].message


async def test_alias_limit_rejects_many_aliases() -> None:
    schema = build_schema(Settings(max_query_aliases=1, validation_cache_size=7))
    result = await schema.execute("{ a: __typename b: __typename }")
    assert result.errors is not None
    assert "aliases" in result.errors[0].message


async def test_repeated_query_is_validated_once() -> None:
    schema = build_schema(Settings(validation_cache_size=5))
    cache: Any = _get_validate_cache(5)
    for _ in range(3):
        result = await schema.execute("{ __typename }")
        assert result.errors is None
    assert cache.cache_info().misses == 1
    assert cache.cache_info().hits >= 2
