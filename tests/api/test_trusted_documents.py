"""Loading the trusted documents manifest: every bad entry stops the start, naming its id."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from api.document_gate import DocumentLimits
from api.schema import build_schema
from api.trusted_documents import (
    MALFORMED,
    ManifestError,
    TrustedDocuments,
    fold_document_id,
    read_manifest,
    requested_reference,
)

SCHEMA = build_schema()._schema
LIMITS = DocumentLimits(max_depth=12, max_aliases=30, max_fields=2000, max_comparisons=1000)
BALANCE = "query Balance { balance { available currency } }"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def load(manifest: dict[str, object], max_cost: int = 1000) -> TrustedDocuments:
    documents = TrustedDocuments("client_sessions")
    documents.load(manifest, schema=SCHEMA, limits=LIMITS, max_cost=max_cost, default_page_size=20)
    return documents


def test_documents_load_under_plain_and_prefixed_ids() -> None:
    payouts = "query P($first: Int!) { payouts(first: $first) { edges { cursor } } }"
    documents = load({sha(BALANCE): BALANCE, f"sha256:{sha(payouts)}": payouts})
    assert len(documents) == 2
    for reference in (sha(BALANCE), f"sha256:{sha(BALANCE)}"):
        found = documents.find(reference)
        assert found is not None and found.text == BALANCE
        assert documents.is_trusted(found.document)
    assert documents.by_text[payouts].id == sha(payouts)
    assert documents.find(sha("{ viewer { livemode } }")) is None
    assert documents.find("not-an-id") is None
    assert documents.find(sha(BALANCE).upper()) is None


@pytest.mark.parametrize(
    ("key", "text", "message"),
    [
        ("abc", BALANCE, "SHA-256 hex"),
        (sha("something else"), BALANCE, "not the document's SHA-256"),
        (sha("{ balance {"), "{ balance {", "Syntax Error"),
        (sha("{ nope }"), "{ nope }", "Cannot query field 'nope'"),
        (sha("{ payout { id } }"), "{ payout { id } }", "Query.payout(id:)"),
        (sha(BALANCE), 42, "must be a string"),
    ],
)
def test_a_bad_entry_stops_the_load_naming_its_id(key: str, text: object, message: str) -> None:
    with pytest.raises(ManifestError) as raised:
        load({sha(BALANCE): BALANCE, key: text})
    assert key[:80] in str(raised.value)
    assert message in str(raised.value)


def test_an_over_budget_document_is_refused() -> None:
    text = "{ payouts(first: 100) { edges { node { id statusHistory { status } } } } }"
    with pytest.raises(ManifestError, match="exceeds the maximum of 50"):
        load({sha(text): text}, max_cost=50)


def test_an_over_deep_document_is_refused() -> None:
    deep = 'query { node(id: "x") { ... on Payout { destinationBank { id } } } }'
    load({sha(deep): deep})  # within the default bounds
    limits = DocumentLimits(max_depth=1, max_aliases=30, max_fields=2000, max_comparisons=1000)
    documents = TrustedDocuments()
    with pytest.raises(ManifestError, match="maximum operation depth"):
        documents.load(
            {sha(deep): deep}, schema=SCHEMA, limits=limits, max_cost=1000, default_page_size=20
        )


def test_reading_the_file(tmp_path: Path) -> None:
    path = tmp_path / "persisted-documents.json"
    path.write_text(json.dumps({sha(BALANCE): BALANCE}))
    assert read_manifest(path) == {sha(BALANCE): BALANCE}
    for content, message in (("[1, 2]", "must hold an object"), ("{nope", "is not JSON")):
        path.write_text(content)
        with pytest.raises(ManifestError, match=message):
            read_manifest(path)
    with pytest.raises(ManifestError, match="missing.json"):
        read_manifest(tmp_path / "missing.json")


def test_requested_reference_forms() -> None:
    assert requested_reference(None) is None
    assert requested_reference({"documentId": "abc"}) == "abc"
    assert requested_reference({"persistedQuery": {"version": 1, "sha256Hash": "abc"}}) == "abc"
    assert requested_reference({"persistedQuery": "abc"}) is MALFORMED
    assert requested_reference({"other": 1}) is None


def test_fold_document_id_into_extensions() -> None:
    assert fold_document_id({"query": "{ a }"}) == {"query": "{ a }"}
    folded = fold_document_id({"documentId": "x", "variables": {}})
    assert folded == {"documentId": "x", "variables": {}, "extensions": {"documentId": "x"}}
    kept = fold_document_id({"documentId": "x", "extensions": {"persistedQuery": {}}})
    assert kept == {
        "documentId": "x",
        "extensions": {"persistedQuery": {}, "documentId": "x"},
    }
    assert fold_document_id([1]) == [1]
