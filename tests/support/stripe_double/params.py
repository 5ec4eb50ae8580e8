"""Stripe's request encoding and its parameter checks.

Bodies and query strings are form-encoded with bracket notation (``individual[dob][year]=1990``,
``expand[0]=x`` or ``expand[]=x``). Each endpoint declares the parameters Stripe's API reference
documents for it (``reference.py``); anything else is refused the way Stripe refuses it:
``invalid_request_error`` / ``parameter_unknown`` naming the full bracketed parameter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from tests.support.stripe_double.errors import StripeError

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def decode_form(body: str) -> dict[str, Any]:
    """``a[b][0]=x`` → ``{"a": {"b": {"0": "x"}}}``; ``a[]=x`` appends. Lists stay index-keyed
    dicts here; the endpoint's spec decides what is a list."""
    root: dict[str, Any] = {}
    for raw_key, value in parse_qsl(body, keep_blank_values=True):
        match = _KEY.match(raw_key)
        if match is None:
            raise StripeError.invalid(f"Invalid parameter name: {raw_key}", param=raw_key)
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        node = root
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            if part == "":
                part = str(len(node))
            if last:
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise StripeError.invalid(
                        f"Invalid parameter: {raw_key} mixes a value and a hash", param=raw_key
                    )
                node = child
    return root


def bracketed(path: tuple[str, ...]) -> str:
    return path[0] + "".join(f"[{p}]" for p in path[1:])


class Spec:
    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        raise NotImplementedError


class Str(Spec):
    def __init__(self, max_length: int = 5000) -> None:
        self.max_length = max_length

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if not isinstance(value, str):
            raise StripeError.invalid(
                f"Invalid string: {bracketed(path)} must be a string", param=bracketed(path)
            )
        if len(value) > self.max_length:
            raise StripeError.invalid(
                f"Invalid string: {value[:20]}...; must be at most {self.max_length} characters",
                param=bracketed(path),
                code="string_length_exceeded" if self.max_length < 5000 else None,
            )
        return value


class Int(Spec):
    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if not isinstance(value, str) or not re.fullmatch(r"-?\d+", value):
            raise StripeError.invalid(
                f"Invalid integer: {value}", param=bracketed(path), code="parameter_invalid_integer"
            )
        return int(value)


class Bool(Spec):
    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if value not in ("true", "false"):
            raise StripeError.invalid(
                f"Invalid boolean: {value}", param=bracketed(path), code="parameter_invalid_boolean"
            )
        return value == "true"


class Enum(Spec):
    def __init__(self, *values: str) -> None:
        self.values = values

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if value not in self.values:
            name = bracketed(path)
            raise StripeError.invalid(
                f"Invalid {name}: must be one of {', '.join(self.values)}", param=name
            )
        return value


class Metadata(Spec):
    """Up to 50 keys of at most 40 characters, values of at most 500; '' unsets a key."""

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if value == "":
            return {}
        if not isinstance(value, dict):
            raise StripeError.invalid("Invalid metadata: must be a hash", param=bracketed(path))
        if len(value) > 50:
            raise StripeError.invalid(
                "Invalid metadata: metadata can have at most 50 keys", param=bracketed(path)
            )
        for key, item in value.items():
            if len(key) > 40:
                raise StripeError.invalid(
                    f"Invalid metadata: keys must be at most 40 characters ({key})",
                    param=bracketed((*path, key)),
                )
            if not isinstance(item, str) or len(item) > 500:
                raise StripeError.invalid(
                    "Invalid metadata: values must be strings of at most 500 characters",
                    param=bracketed((*path, key)),
                )
        return dict(value)


class ListOf(Spec):
    def __init__(self, item: Spec) -> None:
        self.item = item

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if isinstance(value, dict) and all(k.isdigit() for k in value):
            ordered = [value[k] for k in sorted(value, key=int)]
            return [self.item.check(v, (*path, str(i))) for i, v in enumerate(ordered)]
        if value == "":
            return []
        raise StripeError.invalid(f"Invalid array: {bracketed(path)}", param=bracketed(path))


class Range(Spec):
    """An integer or a ``gt/gte/lt/lte`` hash (list filters on ``created``)."""

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if isinstance(value, dict):
            return Hash(gt=Int(), gte=Int(), lt=Int(), lte=Int()).check(value, path)
        return {"eq": Int().check(value, path)}


class StrOrHash(Spec):
    """A token string or a hash (``external_account``)."""

    def __init__(self, hash_spec: Hash) -> None:
        self.hash_spec = hash_spec

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if isinstance(value, str):
            return value
        return self.hash_spec.check(value, path)


class Hash(Spec):
    def __init__(
        self,
        fields: dict[str, Spec] | None = None,
        /,
        *,
        required: tuple[str, ...] = (),
        **more: Spec,
    ) -> None:
        self.fields = {**(fields or {}), **more}
        self.required = required

    def check(self, value: Any, path: tuple[str, ...]) -> Any:
        if value == "" and path:
            return {}  # an empty value unsets a hash
        if not isinstance(value, dict):
            name = bracketed(path) if path else "body"
            raise StripeError.invalid(f"Invalid hash: {name} must be a hash", param=name)
        checked: dict[str, Any] = {}
        for key, item in value.items():
            spec = self.fields.get(key)
            full = (*path, key)
            if spec is None:
                raise StripeError.invalid(
                    f"Received unknown parameter: {bracketed(full)}",
                    param=bracketed(full),
                    code="parameter_unknown",
                )
            checked[key] = spec.check(item, full)
        for key in self.required:
            if key not in checked:
                full = (*path, key)
                raise StripeError.invalid(
                    f"Missing required param: {bracketed(full)}.",
                    param=bracketed(full),
                    code="parameter_missing",
                )
        return checked


def check_params(spec: Hash, params: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = spec.check(dict(params), ())
    return result
