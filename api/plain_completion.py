"""Completion of plain selections without graphql-core's per-field machinery (issue 16, case 2).

A page of 50 payouts with 11 leaf fields each is about 600 field completions; graphql-core
builds a ``Path``, a resolve info and an awaitable check for each, calls strawberry's basic
resolver and walks ``complete_value``, and that was over 40 % of the request.

A selection set is *plain* when every field in it is a strawberry field without a resolver
(an attribute read, ``getattr(source, python_name)``) and without arguments, on an object type,
and its type is a scalar or enum, a plain object or a list of them (nullable or not); no
``@defer``/``@stream``, no fragment variables, no middleware. For those, a plan built once per
execution and selection reads the attributes and coerces the leaves with the same functions
graphql-core calls (``coerce_output_value``), into the same dicts in the same order.

Anything unusual while running the plan (a null for a non-null field, a value that fails its
coercion, an object that fails ``is_type_of``, something that is not a list) abandons the
plan for that object and lets graphql-core complete it as before, which produces the same
errors, paths and nulls it always did: attribute reads have no side effects, so reading them
again is harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLID,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    Undefined,
)
from strawberry.schema.schema_converter import GraphQLCoreConverter

Convert = Callable[[Any], Any]
# graphql-core's field collection output: response name -> field details (node, ...).
GroupedFieldSet = Any
# What the plan needs from the executor: field collection for a nested object.
CollectSubfields = Callable[[GraphQLObjectType, Any], Any]

_DEFINITION = GraphQLCoreConverter.DEFINITION_BACKREF
_HANDLED_DIRECTIVES = frozenset({"skip", "include"})  # already applied by field collection
_STRAWBERRY_IS_TYPE_OF = "strawberry.schema.schema_converter"
# Strings cached per enum (a status has a handful of values).
_ENUM_CACHE_LIMIT = 64


class NotPlain(Exception):
    """The plan cannot complete this value; graphql-core completes it instead."""


def compile_object(
    schema: GraphQLSchema,
    parent_type: GraphQLObjectType,
    grouped_field_set: GroupedFieldSet,
    collect_subfields: CollectSubfields,
) -> Callable[[Any], dict[str, Any]] | None:
    """A function completing ``parent_type``'s selection on a source object, or None when the
    selection is not plain."""
    steps: list[tuple[str, str, Convert]] = []
    for response_name, field_details_list in grouped_field_set.items():
        field_def = schema.get_field(parent_type, field_details_list[0].node.name.value)
        if field_def is None or field_def.args:
            return None
        for details in field_details_list:
            node = details.node
            if node.arguments or details.fragment_variable_values is not None:
                return None
            if any(d.name.value not in _HANDLED_DIRECTIVES for d in node.directives or ()):
                return None
        strawberry_field = (field_def.extensions or {}).get(_DEFINITION)
        if (
            strawberry_field is None
            or not getattr(field_def.resolve, "_is_default", False)
            or not strawberry_field.is_basic_field
            or strawberry_field.default_resolver is not getattr
        ):
            return None
        convert = _compile_type(schema, field_def.type, field_details_list, collect_subfields)
        if convert is None:
            return None
        steps.append((response_name, strawberry_field.python_name, convert))

    def complete(source: Any) -> dict[str, Any]:
        return {name: convert(getattr(source, attr)) for name, attr, convert in steps}

    return complete


def _compile_type(
    schema: GraphQLSchema,
    type_: Any,
    field_details_list: Any,
    collect_subfields: CollectSubfields,
) -> Convert | None:
    non_null = isinstance(type_, GraphQLNonNull)
    inner = type_.of_type if non_null else type_
    if isinstance(inner, GraphQLList):
        item = _compile_type(schema, inner.of_type, field_details_list, collect_subfields)
        return None if item is None else _list(item, non_null)
    if isinstance(inner, GraphQLScalarType | GraphQLEnumType):
        return _leaf(inner, non_null)
    if isinstance(inner, GraphQLObjectType):
        is_type_of = inner.is_type_of
        if is_type_of is not None and getattr(is_type_of, "__module__", None) != (
            _STRAWBERRY_IS_TYPE_OF
        ):
            return None  # strawberry's ignores the resolve info; others may not
        grouped, defer_usages, _ = collect_subfields(inner, field_details_list)
        if defer_usages:
            return None
        complete = compile_object(schema, inner, grouped, collect_subfields)
        return None if complete is None else _object(complete, is_type_of, non_null)
    return None  # interfaces and unions: graphql-core resolves the runtime type


def _absent(value: Any, non_null: bool) -> bool:
    """True for a null; raises for a null where none is allowed, or an exception as value
    (graphql-core raises it as the field's error)."""
    if value is None or value is Undefined:
        if non_null:
            raise NotPlain
        return True
    if isinstance(value, Exception):
        raise NotPlain
    return False


def _checked(coerced: Any) -> Any:
    if coerced is None or coerced is Undefined:
        raise NotPlain
    return coerced


def _leaf(type_: GraphQLScalarType | GraphQLEnumType, non_null: bool) -> Convert:
    coerce = type_.coerce_output_value
    assert coerce is not None  # graphql-core fills the default
    exact: type | None = None
    if type_ is GraphQLString or type_ is GraphQLID:
        exact = str  # serialize_string/serialize_id return a str as it is
    elif type_ is GraphQLBoolean:
        exact = bool
    if exact is not None:
        kind = exact

        def convert_exact(value: Any) -> Any:
            if type(value) is kind:
                return value
            if _absent(value, non_null):
                return None
            return _checked(coerce(value))

        return convert_exact
    if isinstance(type_, GraphQLEnumType):
        names: dict[str, Any] = {}

        def convert_enum(value: Any) -> Any:
            if type(value) is str:
                name = names.get(value)
                if name is None:
                    name = _checked(coerce(value))
                    if len(names) < _ENUM_CACHE_LIMIT:
                        names[value] = name
                return name
            if _absent(value, non_null):
                return None
            return _checked(coerce(value))

        return convert_enum

    def convert(value: Any) -> Any:
        if _absent(value, non_null):
            return None
        return _checked(coerce(value))

    return convert


def _list(item: Convert, non_null: bool) -> Convert:
    def convert(value: Any) -> Any:
        if type(value) is list or type(value) is tuple:
            return [item(v) for v in value]
        if _absent(value, non_null):
            return None
        raise NotPlain  # other iterables, or not a list: graphql-core's rules and errors

    return convert


def _object(
    complete: Callable[[Any], dict[str, Any]],
    is_type_of: Callable[[Any, Any], Any] | None,
    non_null: bool,
) -> Convert:
    def convert(value: Any) -> Any:
        if _absent(value, non_null):
            return None
        if is_type_of is not None and is_type_of(value, None) is not True:
            raise NotPlain
        return complete(value)

    return convert
