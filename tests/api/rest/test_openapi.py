"""The OpenAPI document of /api/v1: committed, current, and describing exactly the routes the
app serves (this runs in CI through ``make check``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import schemathesis
from schemathesis.core.result import Ok
from starlette.routing import Mount, Route

from api.app import create_app
from api.rest import PREFIX
from api.rest.openapi import build_document, render
from api.settings import Settings

DOCUMENT_FILE = Path(__file__).resolve().parents[3] / "openapi.json"
METHODS = {"get", "put", "post", "patch", "delete"}


def served_operations(tmp_path: Path) -> set[tuple[str, str]]:
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"))
    (mount,) = [r for r in app.routes if isinstance(r, Mount) and r.path == PREFIX]
    served = set()
    for route in mount.routes:
        assert isinstance(route, Route)
        if route.path == "/openapi.json":
            continue
        served |= {(route.path, m.lower()) for m in route.methods or () if m != "HEAD"}
    return served


def test_committed_document_matches_the_code() -> None:
    assert DOCUMENT_FILE.read_text() == render(build_document()), (
        "openapi.json is stale: run `make openapi` and commit the result"
    )


def test_document_describes_exactly_the_served_routes(tmp_path: Path) -> None:
    document = build_document()
    documented = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }
    assert documented == served_operations(tmp_path)


def test_every_operation_is_named_and_answers_in_the_envelopes() -> None:
    document = build_document()
    ids = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            ids.append(operation["operationId"])
            assert set(re.findall(r"{(\w+)}", path)) == {
                p["name"] for p in operation["parameters"] if p["in"] == "path"
            }
            ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
            assert ok["properties"]["success"] == {"const": True}
            for status, response in operation["responses"].items():
                if status != "200":
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (method, path)
            assert {"401", "429", "500"} <= set(operation["responses"]), (method, path)
            has_key = any(p["name"] == "Idempotency-Key" for p in operation["parameters"])
            assert has_key == (method != "get"), (method, path)
    assert len(ids) == len(set(ids))


def test_request_bodies_refuse_unknown_fields() -> None:
    schemas = build_document()["components"]["schemas"]
    bodies = [name for name in schemas if name.endswith("Body")]
    assert bodies
    for name in bodies:
        assert schemas[name]["additionalProperties"] is False, name


def test_schemathesis_loads_the_document() -> None:
    schema = schemathesis.openapi.from_dict(json.loads(render(build_document())))
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == sum(
        1 for item in build_document()["paths"].values() for m in item if m in METHODS
    )


def test_an_operation_that_takes_no_body_documents_the_empty_object_too() -> None:
    """`{}` means "no body" on such operations; a document that required the fields whenever a
    body is present would call that accepted request a violation (schemathesis' ST201)."""
    from api.rest.routes import OPERATIONS

    document = build_document()
    empty_ops = [op for op in OPERATIONS if op.empty_body]
    assert empty_ops
    for op in empty_ops:
        body = document["paths"][op.path][op.method.lower()]["requestBody"]
        assert body["required"] is False
        variants = body["content"]["application/json"]["schema"]["anyOf"]
        assert variants[0]["type"] == "object" and variants[0]["maxProperties"] == 0, op.path
