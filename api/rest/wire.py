"""The platform's wire format: camelCase JSON models, the success envelope and list objects."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from starlette.responses import Response

from api.rest.versions import ApiVersion

# JSON numbers beyond this lose precision in JavaScript clients (the Node SDK).
MAX_SAFE_INTEGER = 2**53 - 1


def _no_nul(value: str) -> str:
    # PostgreSQL cannot store U+0000 in text; refuse it at the edge, like GraphQL does.
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
SafeInt = Annotated[int, Field(ge=-MAX_SAFE_INTEGER, le=MAX_SAFE_INTEGER)]


class Body(BaseModel):
    """A request body: camelCase names only, unknown fields refused, JSON types strict."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, frozen=True, strict=True, title=None
    )


class WireObject(BaseModel):
    """A response object: built with Python names, sent with camelCase ones."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True
    )
    # Fields left out of the JSON when None (present only in some versions or cases).
    OMITTED_WHEN_NONE: ClassVar[frozenset[str]] = frozenset()
    # Secrets shown once: null in the copy an idempotency key stores and replays.
    STORED_AS_NONE: ClassVar[frozenset[str]] = frozenset()


T = TypeVar("T", bound=WireObject)


class ListObject(WireObject, Generic[T]):
    """One page of a list (API versions from 2026-07-24: the ``data`` of the envelope)."""

    object: Literal["list"] = "list"
    data: list[T]
    has_more: bool
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; absent on the last page."
    )


def dump(value: Any, *, stored: bool = False) -> Any:
    if isinstance(value, WireObject):
        if stored and value.STORED_AS_NONE:
            value = value.model_copy(update=dict.fromkeys(value.STORED_AS_NONE))
        omitted = {name for name in value.OMITTED_WHEN_NONE if getattr(value, name) is None}
        return value.model_dump(mode="json", by_alias=True, exclude=omitted)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, list):
        return [dump(item, stored=stored) for item in value]
    return value


def envelope(data: Any, version: ApiVersion, *, stored: bool = False) -> dict[str, Any]:
    """``{"success": true, "data": ...}``; a list page keeps the shape of the caller's version.
    ``stored``: the copy an idempotency key keeps (secrets shown once left out)."""
    if isinstance(data, ListObject):
        page = dump(data)
        if page.get("nextCursor") is None:
            page.pop("nextCursor", None)
        if version.legacy:
            page.pop("object")
            return {"success": True, **page}
        return {"success": True, "data": page}
    return {"success": True, "data": dump(data, stored=stored)}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, headers=headers, media_type="application/json"
    )
