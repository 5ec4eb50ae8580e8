"""Walk a GraphQL schema to build calls for every root field (tenant-isolation tests).

Pure functions over a ``graphql.GraphQLSchema`` (from the running server's introspection or
any other schema): full selection sets, generated arguments with *id slots* (arguments or
input fields that carry an object id), and scanners for forbidden values in responses.
Nothing here knows our domain: new fields are covered when they appear in the schema.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    build_client_schema,
    get_introspection_query,
    get_named_type,
    is_leaf_type,
)
from graphql.pyutils import Undefined

INTROSPECTION_QUERY = get_introspection_query(descriptions=False)
SELECTION_DEPTH = 3


class UnhandledField(Exception):
    """The generator cannot build a meaningful call for this field."""


def schema_from_introspection(result: Mapping[str, Any]) -> GraphQLSchema:
    return build_client_schema(result.get("data", result))


@dataclass(frozen=True)
class RootField:
    operation: str  # "query" | "mutation" | "subscription"
    name: str
    definition: GraphQLField

    @property
    def key(self) -> str:
        return f"{self.operation}.{self.name}"


def root_fields(schema: GraphQLSchema, operation: str) -> list[RootField]:
    root = {
        "query": schema.query_type,
        "mutation": schema.mutation_type,
        "subscription": schema.subscription_type,
    }[operation]
    if root is None:
        return []
    return [RootField(operation, name, f) for name, f in root.fields.items()]


# --- selection sets ------------------------------------------------------------------------


def selection_set(
    schema: GraphQLSchema, type_: GraphQLOutputType, depth: int = SELECTION_DEPTH
) -> str:
    """Every field reachable within ``depth`` object levels (fields needing arguments skipped),
    with ``__typename`` everywhere; abstract types get one inline fragment per possible type,
    with aliases where two fragments would give one response name two shapes."""
    named = get_named_type(type_)
    if is_leaf_type(named):
        return ""
    if depth <= 0:
        return "{ __typename }"
    if isinstance(named, GraphQLObjectType):
        return "{ __typename " + " ".join(_object_fields(schema, named, depth)) + " }"
    assert isinstance(named, GraphQLInterfaceType | GraphQLUnionType)
    possible = schema.get_possible_types(named)
    conflicting = _conflicting_names(possible)
    fragments = [
        f"... on {t.name} {{ " + " ".join(_object_fields(schema, t, depth, conflicting)) + " }"
        for t in possible
    ]
    return "{ __typename " + " ".join(fragments) + " }"


def _object_fields(
    schema: GraphQLSchema,
    type_: GraphQLObjectType,
    depth: int,
    aliased: frozenset[str] = frozenset(),
) -> Iterator[str]:
    for name, definition in type_.fields.items():
        if any(isinstance(a.type, GraphQLNonNull) for a in definition.args.values()):
            continue
        alias = f"{type_.name}_{name}: " if name in aliased else ""
        sub = selection_set(schema, definition.type, depth - 1)
        yield f"{alias}{name} {sub}".strip()


def _conflicting_names(types: Iterable[GraphQLObjectType]) -> frozenset[str]:
    shapes: dict[str, set[str]] = {}
    for t in types:
        for name, definition in t.fields.items():
            shapes.setdefault(name, set()).add(str(definition.type))
    return frozenset(name for name, seen in shapes.items() if len(seen) > 1)


# --- arguments -----------------------------------------------------------------------------


@dataclass(frozen=True)
class IdSlot:
    """A place in the arguments that takes an object id (or a list of them)."""

    path: str
    typenames: frozenset[str] | None  # None: any object (no better hint)
    many: bool


@dataclass
class ValueFactory:
    """Valid-looking values for non-id arguments, distinct from any seeded tenant's values."""

    token: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    also_fill: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def string(self, name: str) -> str:
        lowered = name.lower()
        for suffix, value in _STRING_HINTS:
            if lowered.endswith(suffix):
                return value.format(token=self.token)
        return f"gen-{name}-{self.token}"


_STRING_HINTS: tuple[tuple[str, str], ...] = (
    ("email", "gen-{token}@example.org"),
    ("postalcode", "94107"),
    ("documenturl", "https://docs.sandbox.test/gen-{token}.pdf"),
    ("url", "https://gen-{token}.example.org"),
    ("country", "US"),
    ("currencies", "usd"),
    ("currency", "usd"),
    ("code", "gen_{token}"),
    ("dateofbirth", "1990-01-01"),
    ("phone", "+14155550111"),
    ("accountnumber", "000555666888"),
    ("routingnumber", "110000000"),
    ("idnumber", "123456789"),
    ("taxid", "123456789"),
    ("ssnlast4", "1234"),
    ("line1", "9 Generated Rd"),
    ("city", "Springfield"),
    ("state", "CA"),
)

SCALAR_VALUES: dict[str, Any] = {
    "Int": 1,
    "Float": 1.0,
    "Boolean": False,
    "Cents": 1000,
    "DateTime": "2026-01-01T00:00:00+00:00",
    "Date": "2026-01-01",
}


def slot_typenames(schema: GraphQLSchema, hint: str | None) -> frozenset[str] | None:
    """Object types an id slot refers to, from a type name hint (``PlanGroup`` from
    ``planGroupId``, the field's return type for ``id``); None when nothing fits."""
    if not hint:
        return None
    named = schema.get_type(hint)
    if named is None:  # "BankAccount" for PayoutBankAccount: the one type ending in the hint
        matches = [t for n, t in schema.type_map.items() if n.endswith(hint)]
        named = matches[0] if len(matches) == 1 else None
    if isinstance(named, GraphQLInterfaceType | GraphQLUnionType):
        return frozenset(t.name for t in schema.get_possible_types(named))
    if isinstance(named, GraphQLObjectType) and "id" in named.fields:
        return frozenset({named.name})
    return None


def _id_hint(name: str) -> str | None:
    for suffix in ("Ids", "Id"):
        if name.endswith(suffix) and len(name) > len(suffix):
            stem = name[: -len(suffix)]
            return stem[0].upper() + stem[1:]
    return None


def _is_id_name(name: str) -> bool:
    return name in ("id", "ids") or _id_hint(name) is not None


class ArgumentBuilder:
    """Arguments for one root field: values with ``IdSlot`` placeholders."""

    def __init__(self, schema: GraphQLSchema, values: ValueFactory) -> None:
        self.schema = schema
        self.values = values

    def build(
        self, root: RootField, *, optional_ids: bool = True
    ) -> tuple[dict[str, Any], list[IdSlot]]:
        """Required arguments, and optional id arguments unless ``optional_ids`` is False."""
        slots: list[IdSlot] = []
        return_type = get_named_type(root.definition.type).name
        args: dict[str, Any] = {}
        for name, arg in root.definition.args.items():
            required = isinstance(arg.type, GraphQLNonNull)
            wanted = optional_ids and (_is_id_name(name) or self._is_id_typed(arg.type))
            if not (required or wanted):
                continue
            hint = return_type if name in ("id", "ids") else _id_hint(name)
            args[name] = self._value(arg, name, name, hint, slots)
        return args, slots

    def _is_id_typed(self, type_: GraphQLInputType) -> bool:
        return get_named_type(type_).name == "ID"

    def _value(
        self,
        owner: GraphQLArgument | GraphQLInputField,
        name: str,
        path: str,
        hint: str | None,
        slots: list[IdSlot],
    ) -> Any:
        type_ = owner.type
        many = False
        while isinstance(type_, GraphQLNonNull | GraphQLList):
            many = many or isinstance(type_, GraphQLList)
            type_ = type_.of_type
        named: GraphQLNamedType = type_
        if named.name == "ID" or (named.name == "String" and _id_hint(name)):
            slot = IdSlot(path, slot_typenames(self.schema, hint), many)
            slots.append(slot)
            return slot
        if isinstance(named, GraphQLInputObjectType):
            value = self._input_object(named, path, slots)
        elif isinstance(named, GraphQLEnumType):
            value = next(iter(named.values))
        elif isinstance(named, GraphQLScalarType):
            value = self._scalar(named, name, path)
        else:  # pragma: no cover - input types are one of the above
            raise UnhandledField(f"{path}: unsupported input type {named}")
        return [value] if many else value

    def _input_object(
        self, type_: GraphQLInputObjectType, path: str, slots: list[IdSlot]
    ) -> dict[str, Any]:
        extra = self.values.also_fill.get(type_.name, frozenset())
        value: dict[str, Any] = {}
        for name, input_field in type_.fields.items():
            required = isinstance(input_field.type, GraphQLNonNull)
            wanted = (required and input_field.default_value is Undefined) or name in extra
            if not (wanted or _is_id_name(name)) or name == "idempotencyKey":
                continue
            value[name] = self._value(input_field, name, f"{path}.{name}", _id_hint(name), slots)
        return value

    def _scalar(self, type_: GraphQLScalarType, name: str, path: str) -> Any:
        if type_.name == "String":
            return self.values.string(name)
        if type_.name in SCALAR_VALUES:
            return SCALAR_VALUES[type_.name]
        raise UnhandledField(f"{path}: no generated value for scalar {type_.name}")


MAX_LIST_IDS = 8


def fill_slots(
    args: Any,
    slots: list[IdSlot],
    ids_by_type: Mapping[str, list[str]],
    own_by_type: Mapping[str, list[str]] | None = None,
) -> Iterator[dict[str, Any]]:
    """Argument sets with foreign ids (``ids_by_type``) in the id slots.

    First every slot foreign, cycling so every candidate id appears in every single-id slot at
    least once (lists get all candidates at once). Then, when the caller's own ids are given
    and a field has several slots, one set per slot with only that slot foreign and the others
    the caller's own (a list slot: own ids plus the foreign ones), so a check made on one id
    cannot hide a missing check on another. Raises ``UnhandledField`` for a slot that names a
    type of which no foreign id is known."""
    foreign = {slot: _candidates(slot, ids_by_type) for slot in slots}
    for slot, ids in foreign.items():
        if not ids:
            raise UnhandledField(f"{slot.path}: no known ids of {sorted(slot.typenames or [])}")
    # A list slot takes its candidates a chunk at a time: one list of every id, each object
    # selected in full, would be refused as too costly (``nodes(ids:)``) and test nothing.
    chunks = {
        s: [ids[i : i + MAX_LIST_IDS] for i in range(0, len(ids), MAX_LIST_IDS)]
        for s, ids in foreign.items()
        if s.many
    }
    rounds = max(
        [len(ids) for s, ids in foreign.items() if not s.many] + [len(c) for c in chunks.values()],
        default=1,
    )
    for index in range(max(rounds, 1)):
        yield _substitute(
            args,
            {
                s: chunks[s][index % len(chunks[s])] if s.many else ids[index % len(ids)]
                for s, ids in foreign.items()
            },
        )
    if own_by_type is None or len(slots) < 2:
        return
    own = {slot: _candidates(slot, own_by_type) for slot in slots}
    for target in slots:
        if any(not own[s] for s in slots if s is not target):
            continue
        chosen = {s: own[s] if s.many else own[s][0] for s in slots if s is not target}
        chosen[target] = (
            own[target][:2] + foreign[target][: MAX_LIST_IDS - 2]
            if target.many
            else foreign[target][0]
        )
        yield _substitute(args, chosen)


def _candidates(slot: IdSlot, ids_by_type: Mapping[str, list[str]]) -> list[str]:
    if slot.typenames is None:
        return [i for ids in ids_by_type.values() for i in ids]
    return [i for name in sorted(slot.typenames) for i in ids_by_type.get(name, [])]


def _substitute(value: Any, chosen: Mapping[IdSlot, Any]) -> Any:
    if isinstance(value, IdSlot):
        return chosen[value]
    if isinstance(value, dict):
        return {k: _substitute(v, chosen) for k, v in value.items()}
    if isinstance(value, list):
        flat: list[Any] = []
        for item in value:
            sub = _substitute(item, chosen)
            if isinstance(item, IdSlot) and item.many:
                flat.extend(sub)
            else:
                flat.append(sub)
        return flat
    return value


def operation_text(schema: GraphQLSchema, root: RootField, arg_names: Iterable[str]) -> str:
    """``query Q($a: T!) { field(a: $a) { ... } }`` with every given argument as a variable."""
    names = list(arg_names)
    declared = ", ".join(f"${n}: {root.definition.args[n].type}" for n in names)
    passed = ", ".join(f"{n}: ${n}" for n in names)
    head = f"{root.operation} Gen" + (f"({declared})" if names else "")
    call = root.name + (f"({passed})" if names else "")
    return f"{head} {{ {call} {selection_set(schema, root.definition.type)} }}"


# --- response scanning ---------------------------------------------------------------------


def string_leaves(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from string_leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from string_leaves(item)


def leaked(response: Any, tokens: Iterable[str], exact: Iterable[str]) -> list[str]:
    """Forbidden values found in a response: ``tokens`` anywhere inside a string (ids, unique
    markers), ``exact`` as a whole string value (short values such as last4)."""
    tokens, exact_set = list(tokens), set(exact)
    found: set[str] = set()
    for leaf in string_leaves(response):
        found.update(t for t in tokens if t in leaf)
        if leaf in exact_set:
            found.add(leaf)
    return sorted(found)


def objects_with_ids(value: Any) -> Iterator[tuple[str, str]]:
    """``(__typename, id)`` of every object in a response that has both."""
    if isinstance(value, dict):
        if isinstance(value.get("id"), str) and isinstance(value.get("__typename"), str):
            yield value["__typename"], value["id"]
        for item in value.values():
            yield from objects_with_ids(item)
    elif isinstance(value, list):
        for item in value:
            yield from objects_with_ids(item)


def is_empty(value: Any) -> bool:
    """Null, an empty list, or an object whose every field (but ``__typename``, ``pageInfo``
    and ``userErrors``) is empty."""
    if value is None:
        return True
    if isinstance(value, list):
        return all(is_empty(v) for v in value)
    if isinstance(value, dict):
        ignored = {"__typename", "pageInfo", "userErrors"}
        return all(is_empty(v) for k, v in value.items() if k not in ignored)
    return False
