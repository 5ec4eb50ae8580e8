"""Query cost, computed from the validated document before execution (Shopify/GitHub style).

Every field returning an object costs 1, scalar and enum fields cost 0, and a field with a
``first`` (or ``last``) argument multiplies the cost of its selection by that page size (the
argument's schema default, or ``default_page_size`` when it has none). On an abstract type
(``node``) the most expensive concrete type counts. The ``QueryCost`` extension refuses an
operation over budget (``QUERY_TOO_COMPLEX``), charges the rest to the caller's rate limit
bucket (``RATE_LIMITED``) and reports both in ``extensions.cost`` of every response.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Hashable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, cast

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SchemaMetaFieldDef,
    SelectionSetNode,
    TypeMetaFieldDef,
    VariableNode,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
    value_from_ast,
    value_from_ast_untyped,
    visit,
)
from graphql.execution import ExecutionResult as GraphQLExecutionResult
from graphql.language import ArgumentNode, Visitor
from starlette.responses import Response
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from api.document_cache import DocumentMemo, collector_paused
from api.rate_limit import Decision, RateLimiter

PAGE_ARGUMENTS = ("first", "last")
# A field taking a list of ids (``nodes(ids:)``) multiplies its selection by the list's length.
ID_LIST_ARGUMENTS = ("ids",)
_META_FIELDS = {"__schema": SchemaMetaFieldDef, "__type": TypeMetaFieldDef}  # introspection


@dataclass(frozen=True, slots=True)
class CostCalculator:
    schema: GraphQLSchema
    document: DocumentNode
    variables: Mapping[str, Any]
    default_page_size: int
    _memo: dict[tuple[int, str, frozenset[str]], int] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def operation_cost(self, operation_name: str | None) -> int:
        operation = select_operation(self.document, operation_name)
        if operation is None:
            return 0
        root = self.schema.get_root_type(operation.operation)
        if root is None:
            return 0
        calculator = replace(self, variables=self._with_defaults(operation))
        return calculator._selection_cost(operation.selection_set, root, frozenset())

    def _with_defaults(self, operation: OperationDefinitionNode) -> dict[str, Any]:
        values = dict(self.variables)
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            if values.get(name) is None and definition.default_value is not None:
                values[name] = value_from_ast_untyped(definition.default_value)
        return values

    def _selection_cost(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType, seen: frozenset[str]
    ) -> int:
        # Memoized: nested abstract types would otherwise cost (types ** depth) evaluations.
        key = (id(selection_set), parent.name, seen)
        cached = self._memo.get(key)
        if cached is None:
            cached = self._memo[key] = self._uncached_selection_cost(selection_set, parent, seen)
        return cached

    def _uncached_selection_cost(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType, seen: frozenset[str]
    ) -> int:
        if isinstance(parent, GraphQLObjectType):
            return self._object_cost(selection_set, parent, seen)
        if is_abstract_type(parent):
            assert isinstance(parent, GraphQLAbstractType)
            concrete = self.schema.get_possible_types(parent)
            return max((self._object_cost(selection_set, t, seen) for t in concrete), default=0)
        return 0

    def _object_cost(
        self, selection_set: SelectionSetNode, parent: GraphQLObjectType, seen: frozenset[str]
    ) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field_cost(selection, parent, seen)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if self._applies(condition.name.value if condition else None, parent):
                    total += self._object_cost(selection.selection_set, parent, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self._fragment(name)
                if fragment is None or name in seen:
                    continue
                if self._applies(fragment.type_condition.name.value, parent):
                    total += self._object_cost(fragment.selection_set, parent, seen | {name})
        return total

    def _field_cost(self, node: FieldNode, parent: GraphQLObjectType, seen: frozenset[str]) -> int:
        definition = parent.fields.get(node.name.value) or _META_FIELDS.get(node.name.value)
        if definition is None:  # __typename, or a field validation already refused
            return 0
        named = get_named_type(definition.type)
        if is_leaf_type(named) or node.selection_set is None:
            return 0
        inner = self._selection_cost(node.selection_set, named, seen)
        if any(name in definition.args for name in ID_LIST_ARGUMENTS):
            return self._page_size(node, definition) * (1 + inner)  # one object per id
        return 1 + self._page_size(node, definition) * inner

    def _page_size(self, node: FieldNode, definition: GraphQLField) -> int:
        for name in ID_LIST_ARGUMENTS:
            if name in definition.args:
                ids = self._argument_value(node, definition, name)
                return len(ids) if isinstance(ids, list) else 1
        pages = [name for name in PAGE_ARGUMENTS if name in definition.args]
        if not pages:
            return 1
        for name in pages:
            value = self._argument_value(node, definition, name)
            if isinstance(value, int) and not isinstance(value, bool):
                return max(value, 0)
        return self.default_page_size

    def _argument_value(self, node: FieldNode, definition: GraphQLField, name: str) -> Any:
        argument = definition.args[name]
        for given in node.arguments or ():
            if given.name.value == name:
                return value_from_ast(given.value, argument.type, dict(self.variables))
        default = argument.default_value
        return default if isinstance(default, int) else None

    def _fragment(self, name: str) -> FragmentDefinitionNode | None:
        for definition in self.document.definitions:
            if isinstance(definition, FragmentDefinitionNode) and definition.name.value == name:
                return definition
        return None

    def _applies(self, condition: str | None, concrete: GraphQLObjectType) -> bool:
        if condition is None or condition == concrete.name:
            return True
        target = self.schema.get_type(condition)
        return is_abstract_type(target) and self.schema.is_sub_type(target, concrete)


def select_operation(
    document: DocumentNode, operation_name: str | None
) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    for operation in operations:
        if operation.name and operation.name.value == operation_name:
            return operation
    return None


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    *,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
    default_page_size: int = 20,
) -> int:
    return CostCalculator(schema, document, variables or {}, default_page_size).operation_cost(
        operation_name
    )


class _PageVariableFinder(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        if node.name.value in PAGE_ARGUMENTS + ID_LIST_ARGUMENTS and isinstance(
            node.value, VariableNode
        ):
            self.names.add(node.value.name.value)


def page_variables(document: DocumentNode) -> tuple[str, ...]:
    """Variables given to a ``first``/``last`` argument anywhere: the only ones a cost reads
    (page sizes are Int, so a variable can only be the argument's whole value)."""
    finder = _PageVariableFinder()
    visit(document, finder)
    return tuple(sorted(finder.names))


_PAGE_VARIABLES: DocumentMemo[tuple[str, ...]] = DocumentMemo()
_COSTS: DocumentMemo[int] = DocumentMemo()


def cached_query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    *,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
    default_page_size: int = 20,
) -> int:
    """``query_cost``, remembered per (document, operation, page variables' values)."""
    variables = variables or {}

    def compute() -> int:
        with collector_paused():
            return query_cost(
                schema,
                document,
                operation_name=operation_name,
                variables=variables,
                default_page_size=default_page_size,
            )

    names = _PAGE_VARIABLES.get(document, None, lambda: page_variables(document))
    # The type is part of the key: 1, 1.0 and True are equal keys but not equal page sizes.
    given = tuple(
        (type(v), len(v) if isinstance(v, list) else v)  # an id list counts by its length
        for v in (variables.get(name) for name in names)
    )
    key: Hashable = (schema, operation_name, default_page_size, given)
    try:
        hash(key)
    except TypeError:  # a list or object where a page size belongs: validation refuses it
        return compute()
    return _COSTS.get(document, key, compute)


class QueryCost(SchemaExtension):
    """Refuses over-budget operations, applies the per-key rate limit, reports the cost."""

    def __init__(self, *, max_cost: int, default_page_size: int = 20) -> None:
        self.max_cost = max_cost
        self.default_page_size = default_page_size
        self.cost: int | None = None
        self.decision: Decision | None = None

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        if context.graphql_document is not None:
            self.cost = cached_query_cost(
                context.schema._schema,
                context.graphql_document,
                operation_name=context.operation_name,
                variables=context.variables,
                default_page_size=self.default_page_size,
            )
            refusal = self._refuse_over_budget(self.cost) or await self._charge(self.cost)
            if refusal is not None:
                if context.operation_type is OperationType.SUBSCRIPTION:
                    raise refusal  # strawberry turns an on_execute exception into the result
                context.result = GraphQLExecutionResult(data=None, errors=[refusal])
        yield

    def _refuse_over_budget(self, cost: int) -> GraphQLError | None:
        if cost <= self.max_cost:
            return None
        return GraphQLError(
            f"Query cost {cost} exceeds the maximum of {self.max_cost}. "
            "Ask for fewer objects (smaller `first`, fewer nested connections).",
            extensions={"code": "QUERY_TOO_COMPLEX", "cost": cost, "maximumCost": self.max_cost},
        )

    async def _charge(self, cost: int) -> GraphQLError | None:
        app_context = self.execution_context.context
        viewer = getattr(app_context, "viewer", None)
        services = getattr(app_context, "services", None)
        limiter = cast("RateLimiter | None", getattr(services, "rate_limiter", None))
        if limiter is None or viewer is None:
            return None
        self.decision = decision = await limiter.take(f"key:{viewer.api_key_id}", cost)
        if decision.allowed:
            return None
        error, retry_after = rate_limited(cost, decision)
        response = getattr(app_context, "response", None)
        if isinstance(response, Response):  # plain HTTP (a WebSocket has no status to set)
            response.status_code = 429
            response.headers["Retry-After"] = str(retry_after)
        return error

    def get_results(self) -> dict[str, Any]:
        if self.cost is None:  # no document (refused before parsing) or nothing executed
            return {}
        # A subscription is charged once, when it starts: its events carry no cost figures.
        if self.execution_context.operation_type is OperationType.SUBSCRIPTION:
            return {}
        return {"cost": cost_report(self.cost, self.max_cost, self.decision)}


def rate_limited(cost: int, decision: Decision) -> tuple[GraphQLError, int]:
    """The refusal of an operation its caller's bucket cannot pay for, and its Retry-After."""
    retry_after = max(1, math.ceil(decision.retry_after))
    error = GraphQLError(
        f"Rate limit exceeded: this query costs {cost}, "
        f"{math.floor(decision.remaining)} available. Retry after {retry_after} s.",
        extensions={"code": "RATE_LIMITED", "cost": cost, "retryAfter": retry_after},
    )
    return error, retry_after


def cost_report(cost: int, max_cost: int, decision: Decision | None) -> dict[str, Any]:
    """``extensions.cost`` of a response."""
    report: dict[str, Any] = {"requestedQueryCost": cost, "maximumAvailable": max_cost}
    if decision is not None:
        report["throttleStatus"] = {
            "maximumAvailable": decision.capacity,
            "currentlyAvailable": math.floor(decision.remaining),
            "restoreRate": decision.refill_per_second,
        }
    return report
