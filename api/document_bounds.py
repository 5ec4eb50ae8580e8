"""Bounds on a parsed document, checked in time linear in its size, before validation.

strawberry's depth and alias limiters re-walk a fragment at every spread, so a chain of
fragments that each spread the previous one twice costs 2^n (a 1.3 KB query froze the event
loop). Here every fragment is summarized once and its summary reused at each spread; numbers
saturate instead of growing without end.

Besides depth and aliases, two measures bound what graphql-core's validation does next:
``fields`` (the selections once every fragment is inlined) and ``comparisons`` (pairs of
selections sharing a response name in one selection set, with their sub-selections, which
``OverlappingFieldsCanBeMerged`` compares one by one: 390 copies of one field make 75,855
pairs, over a second of loop time).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

SATURATION = 10**12
ARGUMENT_WEIGHT = 10
INTROSPECTION_FIELDS = frozenset({"__schema", "__type", "__typename"})


def _cap(value: int) -> int:
    return value if value < SATURATION else SATURATION


def _comparisons(keys: dict[str, list[int]]) -> int:
    """Each pair of same-name selections is compared, and so are their sub-selections: about
    ``(n - 1) / 2 * (n + subtree sizes)`` steps for n selections of one name."""
    return _cap(sum((n - 1) * (n + size) // 2 for n, size in keys.values()))


@dataclass(slots=True)
class Summary:
    """What one selection set amounts to once its fragments are inlined."""

    depth: int = 0
    aliases: int = 0
    fields: int = 0
    nested_comparisons: int = 0  # inside the sub-selections of its fields
    # response name -> [selections, their sub-selections], at this level
    keys: dict[str, list[int]] = field(default_factory=dict)
    root_names: set[str] = field(default_factory=set)  # field names, this level

    @property
    def comparisons(self) -> int:
        return _cap(self.nested_comparisons + _comparisons(self.keys))

    def merge_level(self, other: Summary) -> None:
        """Adds a fragment (spread or inline) whose selections join this level."""
        self.depth = max(self.depth, other.depth)
        self.aliases = _cap(self.aliases + other.aliases)
        self.fields = _cap(self.fields + other.fields)
        self.nested_comparisons = _cap(self.nested_comparisons + other.nested_comparisons)
        for key, (count, size) in other.keys.items():
            mine = self.keys.setdefault(key, [0, 0])
            mine[0] = _cap(mine[0] + count)
            mine[1] = _cap(mine[1] + size)
        self.root_names |= other.root_names


@dataclass(frozen=True, slots=True)
class Bounds:
    depth: int
    aliases: int
    fields: int
    comparisons: int
    introspection_only: bool  # every operation selects only __schema / __type / __typename


class _Summarizer:
    def __init__(self, document: DocumentNode) -> None:
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.done: dict[str, Summary] = {}
        self.in_progress: set[str] = set()

    def fragment(self, name: str) -> Summary | None:
        summary = self.done.get(name)
        if summary is not None:
            return summary
        definition = self.fragments.get(name)
        if definition is None or name in self.in_progress:
            return None  # unknown or cyclic: validation reports it
        self.in_progress.add(name)
        summary = self.selection_set(definition.selection_set)
        self.in_progress.discard(name)
        self.done[name] = summary
        return summary

    def selection_set(self, selection_set: SelectionSetNode) -> Summary:
        summary = Summary()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                self._field(selection, summary)
            elif isinstance(selection, InlineFragmentNode):
                summary.merge_level(self.selection_set(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                spread = self.fragment(selection.name.value)
                if spread is not None:
                    summary.merge_level(spread)
        return summary

    def _field(self, node: FieldNode, summary: Summary) -> None:
        name = node.name.value
        key = node.alias.value if node.alias else name
        counts = summary.keys.setdefault(key, [0, 0])
        counts[0] = _cap(counts[0] + 1)
        # Arguments are compared too, and a pair that differs builds a conflict error.
        counts[1] = _cap(counts[1] + ARGUMENT_WEIGHT * len(node.arguments or ()))
        summary.root_names.add(name)
        summary.fields = _cap(summary.fields + 1)
        if node.alias:
            summary.aliases = _cap(summary.aliases + 1)
        if node.selection_set is None:
            return
        sub = self.selection_set(node.selection_set)
        counts[1] = _cap(counts[1] + sub.fields)
        summary.fields = _cap(summary.fields + sub.fields)
        summary.aliases = _cap(summary.aliases + sub.aliases)
        summary.nested_comparisons = _cap(summary.nested_comparisons + sub.comparisons)
        if name not in INTROSPECTION_FIELDS:  # as strawberry's depth limiter counts
            summary.depth = max(summary.depth, 1 + sub.depth)


def measure(document: DocumentNode) -> Bounds:
    summarizer = _Summarizer(document)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    summaries = [summarizer.selection_set(op.selection_set) for op in operations]
    for name in summarizer.fragments:  # unused fragments are validated too
        summarizer.fragment(name)
    every = [*summaries, *summarizer.done.values()]
    return Bounds(
        depth=max((s.depth for s in every), default=0),
        aliases=_cap(sum(s.aliases for s in summaries)),
        # Each fragment definition counts once more: validation walks it on its own too.
        fields=_cap(sum(s.fields for s in every)),
        comparisons=_cap(sum(s.comparisons for s in every)),
        introspection_only=bool(summaries)
        and all(s.root_names <= INTROSPECTION_FIELDS for s in summaries),
    )
