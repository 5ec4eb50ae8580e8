"""Turn a GraphQL payload (strawberry dataclasses) into JSON and back, for idempotent replay
and request fingerprints. Resolver-backed fields are not stored: they are resolved again."""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from datetime import date, datetime
from functools import cache
from typing import Any, TypeVar, Union

T = TypeVar("T")


def dump(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [dump(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: dump(getattr(value, f.name)) for f in _data_fields(type(value))}
    if isinstance(value, dict):
        return {str(k): dump(v) for k, v in value.items()}
    raise TypeError(f"cannot snapshot {type(value).__name__}")


def load(cls: type[T], data: Any) -> T:
    return typing.cast(T, _load(cls, data))


def _load(hint: Any, data: Any) -> Any:
    if data is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _load(options[0], data)
    if origin is typing.Annotated:
        return _load(typing.get_args(hint)[0], data)
    if origin is list:
        (item,) = typing.get_args(hint)
        return [_load(item, v) for v in data]
    supertype = getattr(hint, "__supertype__", None)  # NewType
    if supertype is not None:
        return _load(supertype, data)
    if isinstance(hint, type):
        if issubclass(hint, enum.Enum):
            return hint(data)
        if issubclass(hint, datetime):
            return datetime.fromisoformat(data)
        if issubclass(hint, date):
            return date.fromisoformat(data)
        if dataclasses.is_dataclass(hint):
            hints = _hints(hint)
            kwargs = {f.name: _load(hints[f.name], data.get(f.name)) for f in _data_fields(hint)}
            return hint(**kwargs)
    return data


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


@cache
def _data_fields(cls: type) -> tuple[dataclasses.Field[Any], ...]:
    """Dataclass fields that hold data (strawberry resolver fields have no init)."""
    return tuple(f for f in dataclasses.fields(cls) if f.init)
