"""The OpenAPI 3.1 document of ``/api/v1``, generated from the route table and the pydantic
models the routes use. ``python -m api.rest --output openapi.json`` (``make openapi``) writes the
committed copy; ``tests/api/rest/test_openapi.py`` fails when that copy or the routes drift from it."""

from __future__ import annotations

import json
import re
import typing
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from api.rest.pipeline import Operation
from api.rest.routes import OPERATIONS
from api.rest.versions import CURRENT, HEADER
from api.rest.wire import ListObject

REF = "#/components/schemas/{model}"
IDEMPOTENCY_DESCRIPTION = (
    "Retry this write safely for 24 hours: the same key with the same request replays the "
    "first response (header `Idempotent-Replayed: true`); with a different request it is "
    "refused (409 `idempotency_key_mismatch`); while the first is still running, 409 "
    "`idempotency_in_progress`. The same store as GraphQL's."
)
_PATH_PARAM = re.compile(r"{(\w+)}")
ERROR_DESCRIPTIONS = {
    400: "Bad request (body not JSON, a rule of the operation refused it, or insufficient balance)",
    401: "Missing or unknown API key",
    403: "Not allowed with this key's mode",
    404: "No such object in this organization and mode",
    409: "Conflicts with the current state, or an idempotency key conflict",
    422: "Validation failed; `details` lists each field",
    413: "Request body too large",
    429: "Rate limited; retry after `Retry-After` seconds",
    500: "Internal error; quote the x-request-id",
    502: "The payout provider refused the request",
    503: "The payout provider is unavailable",
}


def _models(operations: list[Operation]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    found: dict[tuple[type[BaseModel], str], None] = {}
    for op in operations:
        if op.body is not None:
            found[(op.body, "validation")] = None
        found[(op.response, "serialization")] = None
        item = _list_item(op)
        if item is not None:
            found[(item, "serialization")] = None
    return [(model, typing.cast(JsonSchemaMode, mode)) for model, mode in found]


def _list_item(op: Operation) -> type[BaseModel] | None:
    if not (isinstance(op.response, type) and issubclass(op.response, ListObject)):
        return None
    (item,) = typing.get_args(op.response.model_fields["data"].annotation)
    return typing.cast(type[BaseModel], item)


def _envelope(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["success", "data"],
        "properties": {"success": {"const": True}, "data": data},
    }


def _success(op: Operation, refs: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    item = _list_item(op)
    if item is None:
        schema = _envelope(refs[(op.response, "serialization")])
    else:
        legacy = {"type": "array", "items": refs[(item, "serialization")]}
        schema = _envelope({"oneOf": [refs[(op.response, "serialization")], legacy]})
        schema["properties"]["hasMore"] = {"type": "boolean"}
        schema["properties"]["nextCursor"] = {"type": "string"}
        schema["description"] = (
            "API versions before 2026-07-24: `data` is the array, with `hasMore` and "
            "`nextCursor` beside it; later versions: `data` is a list object."
        )
    return {"description": "OK", "content": {"application/json": {"schema": schema}}}


def _error_statuses(op: Operation) -> list[int]:
    statuses = {401, 429, 500, *op.errors}
    if op.body is not None:
        statuses |= {400, 413, 422}
    if op.query is not None:
        statuses.add(422)
    if op.writes:
        statuses |= {409, 422}  # idempotency key conflicts, a malformed key
    return sorted(statuses)


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(op.path)
    ]
    if op.query is not None:
        schema = op.query.model_json_schema()
        for name, prop in schema["properties"].items():
            prop = {k: v for k, v in prop.items() if k != "title"}
            if "anyOf" in prop:  # optional text: the query string has no null
                prop = {**prop.pop("anyOf")[0], **prop}
                prop.pop("default", None)
            params.append({"name": name, "in": "query", "required": False, "schema": prop})
    params.append(
        {
            "name": HEADER,
            "in": "header",
            "required": False,
            "description": f"API version (YYYY-MM-DD); the newest ({CURRENT}) when absent.",
            "schema": {"type": "string"},
        }
    )
    if op.writes:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": IDEMPOTENCY_DESCRIPTION,
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            }
        )
    return params


def _operation(op: Operation, refs: dict[Any, dict[str, Any]], method: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "operationId": op.operation_id
        if method == op.method
        else f"{op.operation_id}-{method.lower()}",
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": _parameters(op),
        "responses": {
            "200": _success(op, refs),
            **{
                str(status): {
                    "description": ERROR_DESCRIPTIONS[status],
                    "content": {
                        "application/json": {"schema": {"$ref": REF.format(model="Error")}}
                    },
                }
                for status in _error_statuses(op)
            },
        },
    }
    if op.description:
        doc["description"] = op.description
    if op.deprecated or method != op.method:
        doc["deprecated"] = True
    if op.body is not None:
        schema = refs[(op.body, "validation")]
        if op.empty_body:  # no body and `{}` are the same request; the document says so
            schema = {"anyOf": [EMPTY_BODY, schema]}
        doc["requestBody"] = {
            "required": not op.empty_body,
            "content": {"application/json": {"schema": schema}},
        }
    return doc


EMPTY_BODY: dict[str, Any] = {
    "type": "object",
    "maxProperties": 0,
    "description": "An empty object: the same as sending no body.",
}


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["success", "error"],
    "properties": {
        "success": {"const": False},
        "error": {
            "type": "object",
            "required": ["type", "code", "message"],
            "properties": {
                "type": {"type": "string"},
                "code": {"type": "string"},
                "message": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "details": {
                    "anyOf": [
                        {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["field", "message"],
                                "properties": {
                                    "field": {"type": "string"},
                                    "message": {"type": "string"},
                                },
                            },
                        },
                        {"type": "null"},
                    ]
                },
                "doc_url": {"type": ["string", "null"]},
            },
        },
    },
}


def build_document(operations: list[Operation] = OPERATIONS) -> dict[str, Any]:
    models = _models(operations)
    refs, schemas = models_json_schema(models, ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        for method in op.methods:
            paths.setdefault(op.path, {})[method.lower()] = _operation(op, refs, method)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Payouts REST API (platform-compatible)",
            "version": CURRENT,
            "description": "The platform's REST API for its official SDKs (commet-sdk, "
            "@commet/node): the same services, transactions and idempotency store as GraphQL.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"apiKey": []}, {"bearer": []}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {**schemas.get("$defs", {}), "Error": ERROR_SCHEMA},
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }


@cache
def document() -> dict[str, Any]:
    return build_document()


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"
