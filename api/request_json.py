"""Decoding the JSON a client sends (HTTP bodies, GET parameters, WebSocket messages).

Every failure is a ``json.JSONDecodeError`` (strawberry answers 400 over HTTP and closes a
WebSocket with 4400): bytes that are not UTF-8 and nesting deeper than the limit included, so
no client document reaches code that recurses per level.
"""

from __future__ import annotations

import json

import orjson


class JsonTooDeep(json.JSONDecodeError):
    pass


def decode_json(data: str | bytes, *, max_depth: int) -> object:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        if "depth limit" in str(error):
            raise JsonTooDeep(f"JSON nests deeper than {max_depth} levels", "", 0) from None
        if "surrogate" not in str(error) or "UTF-8" in str(error):
            raise
        # A `\ud800` escape: valid JSON, refused by orjson. Decoded here so the edge check
        # (api.extensions.RejectUnstorableStrings) answers it as a clear BAD_USER_INPUT.
        value = _decode_with_stdlib(data)
    check_depth(value, max_depth)
    return value


def _decode_with_stdlib(data: str | bytes) -> object:
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(text)
    except RecursionError:
        raise JsonTooDeep("JSON nests too deeply", "", 0) from None
    except UnicodeDecodeError:
        raise json.JSONDecodeError("not valid UTF-8", "", 0) from None


def check_depth(value: object, max_depth: int) -> None:
    """Raises ``JsonTooDeep`` when arrays/objects nest deeper than ``max_depth`` (iterative)."""
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item  # type: ignore[assignment]
        else:
            continue
        if depth > max_depth:
            raise JsonTooDeep(f"JSON nests deeper than {max_depth} levels", "", 0)
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
