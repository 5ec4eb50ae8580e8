"""The document's bounds are measured in one pass, fragments summarized once."""

from __future__ import annotations

from graphql import get_introspection_query, parse

from api.document_bounds import SATURATION, measure


def test_depth_counts_nested_selections_and_ignores_introspection() -> None:
    bounds = measure(parse("{ viewer { organization { id } } __schema { types { name } } }"))
    assert bounds.depth == 2
    assert bounds.introspection_only is False


def test_fragment_chain_saturates_instead_of_exploding() -> None:
    fragments = ["fragment F0 on Viewer { livemode }"]
    fragments += [f"fragment F{i} on Viewer {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 60)]
    bounds = measure(parse("{ viewer { ...F59 } } " + " ".join(fragments)))
    assert bounds.fields == SATURATION
    assert bounds.comparisons == SATURATION


def test_fields_and_aliases_count_every_spread() -> None:
    bounds = measure(
        parse("{ viewer { ...F ...F } } fragment F on Viewer { a: livemode organization { id } }")
    )
    # viewer + 2 x (a, organization, id) in the operation, plus the fragment on its own (3).
    assert bounds.fields == 1 + 6 + 3
    assert bounds.aliases == 2


def test_comparisons_grow_with_repeats_and_their_subtrees() -> None:
    flat = measure(parse("{ viewer { " + " ".join(["livemode"] * 10) + " } }"))
    assert flat.comparisons == 9 * 10 // 2
    nested = measure(parse("{ " + " ".join(["viewer { livemode }"] * 10) + " }"))
    assert nested.comparisons == 9 * (10 + 10) // 2
    with_args = measure(parse("{ viewer { " + " ".join(["node(id: 1)"] * 3) + " } }"))
    assert with_args.comparisons == 2 * (3 + 30) // 2


def test_cyclic_and_unknown_fragments_end() -> None:
    bounds = measure(
        parse(
            "{ viewer { ...A ...Missing } } fragment A on Viewer { ...B } fragment B on Viewer { ...A }"
        )
    )
    assert bounds.fields == 1


def test_introspection_only_documents_are_recognized() -> None:
    assert measure(parse(get_introspection_query())).introspection_only is True
    assert measure(parse("{ __typename }")).introspection_only is True
    assert (
        measure(parse("{ ... on Query { __typename viewer { livemode } } }")).introspection_only
        is False
    )
