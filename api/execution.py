"""Our graphql-core execution context: strawberry's, minus a per-message subscription leak, and
with each subscription event executed once per process for every subscriber that shares it.

graphql-core 3.3.2 runs each subscription message on ``build_per_event_executor()``, a shallow
``copy()`` of the subscription's executor. The copy shares the memo dicts of the original, and
``collect_subfields`` memoizes on ``id()`` of a field list that is new for every message: each
delivered message therefore left about 16 objects in a dict that lives as long as the
subscription (measured in the performance baseline; the regression test is
``tests/api/test_subscription_leak.py``). A per-message executor gets memo tables of its own,
which die with it.

Sharing: every subscriber of an organization gets the same event object for a change
(``resolvers.live``), so subscribers with the same operation (the same query text), the same
variables, organization and mode get the same result. The
first of them executes the selection; the others await its result (``SHARED_RESULTS``, keyed by
the event object, which lives as long as the entry). Errors are shaped per subscriber later, by
``ErrorShaping`` on each stream, so a shared raw result carries no subscriber's request id.

A shared result without errors carries its data as ``SharedData``: the JSON text of its
``next`` payload is encoded once, by the first socket that sends it, and every other subscriber
sharing it sends the same text behind its own operation id (``api.ws_protocol``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from typing import Any

from graphql import ExecutionResult, GraphQLObjectType
from graphql.execution.executor import Executor
from graphql.pyutils import RefMap
from graphql.type.definition import GraphQLResolveInfoHelpers
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from api.plain_completion import compile_object
from resolvers.live.event_objects import EventObjectCache

SHARED_RESULTS = EventObjectCache()

# Memo tables that are filled per execution and keyed by per-execution objects.
_PER_EXECUTION_MEMOS: dict[str, type] = {
    "_relevant_sub_fields": dict,
    "_stream_usages": RefMap,
    "_initial_execution_plans": RefMap,
    "_deferred_execution_plans": RefMap,
    "_plain_plans": dict,
}


class SharedData(dict[str, Any]):
    """The data of a result shared by several subscribers, with its ``next`` payload's JSON
    text once encoded. Nothing mutates a result's data after execution; orjson encodes this
    like any dict, so a subscriber that does not take the shared text sends the same JSON."""

    __slots__ = ("_payload_text",)

    def payload_text(self, encode: Callable[[object], str | bytes]) -> str | None:
        """``{"data": …}`` as JSON text, encoded on the first call (``None``: not text)."""
        try:
            return self._payload_text
        except AttributeError:
            encoded = encode({"data": self})
            self._payload_text: str | None = encoded if isinstance(encoded, str) else None
            return self._payload_text


class PayoutsExecutionContext(StrawberryGraphQLCoreExecutionContext):
    _shared_as: Hashable | None = None
    # Plans of plain selections (api/plain_completion.py) by the field set they complete,
    # kept with it so that its id stays its own; per execution, like graphql-core's memos.
    _plain_plans: dict[int, tuple[Any, Any]] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # graphql-core binds these helpers to the executor that holds them: a reference cycle
        # that left every request's executor, with its operation, context and request, to the
        # full garbage collection (issue 17). Through a weak reference the executor is freed
        # by reference counting when its request ends.
        self.async_helpers = _weakly_bound_helpers(self)

    def collect_and_execute_subfields(
        self,
        return_type: GraphQLObjectType,
        field_details_list: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        """A plain selection (attribute reads of leaves and plain objects) completes without
        graphql-core's per-field steps; anything else, or anything the plan refuses on the
        way, completes as graphql-core always does."""
        if self.middleware_manager is None:
            grouped, defer_usages, _ = self.collect_subfields(return_type, field_details_list)
            if not defer_usages:
                plans = self._plain_plans
                if plans is None:
                    plans = self._plain_plans = {}
                entry = plans.get(id(grouped))
                if entry is None:
                    plan = compile_object(self.schema, return_type, grouped, self.collect_subfields)
                    entry = plans[id(grouped)] = (grouped, plan)
                plan = entry[1]
                if plan is not None:
                    try:
                        return plan(result)
                    except Exception:  # graphql-core completes it, errors and all
                        pass
        return super().collect_and_execute_subfields(
            return_type, field_details_list, path, result, position_context
        )

    # The part of the sharing key that is the same for every event of a subscription.
    _scope_key: tuple[Hashable, ...] | None = None
    _scope_viewer: object = None

    def build_per_event_executor(self, payload: Any) -> Executor:
        executor = super().build_per_event_executor(payload)
        key = self._sharing_key(payload)
        if isinstance(executor, PayoutsExecutionContext):
            executor._shared_as = key
        if key is None or not isinstance(executor, PayoutsExecutionContext):
            _fresh_memos(executor)  # a shared one gets them when it is the one that executes
        return executor

    def execute_operation(self, serially: bool | None = None) -> Any:
        key = self._shared_as
        if key is None:
            return super().execute_operation(serially)

        async def execute() -> Any:
            _fresh_memos(self)
            pending = super(PayoutsExecutionContext, self).execute_operation(serially)
            result = await pending if self.is_awaitable(pending) else pending
            if isinstance(result, ExecutionResult):
                _share_data(result)
            return result

        return SHARED_RESULTS.get(key, execute)

    def _sharing_key(self, payload: Any) -> Hashable | None:
        viewer = getattr(self.context_value, "viewer", None)
        if viewer is None:
            return None
        if self._scope_key is None or self._scope_viewer is not viewer:
            variables = repr(sorted(self.variable_values.coerced.items()))
            location = self.operation.loc
            # The operation by its text (a client's own copy of a query matches the others').
            operation: Hashable = (
                _Same(self.operation)
                if location is None
                else (location.source.body, location.start, location.end)
            )
            self._scope_key = (operation, variables, viewer.organization_id, viewer.livemode)
            self._scope_viewer = viewer
        return (_Same(payload), *self._scope_key)


def _weakly_bound_helpers(executor: Executor) -> GraphQLResolveInfoHelpers:
    executor_ref = weakref.ref(executor)

    def gather(*args: Any, **kwargs: Any) -> Any:
        return _alive(executor_ref).gather_async_work(*args, **kwargs)

    def track(*args: Any, **kwargs: Any) -> Any:
        return _alive(executor_ref).track_async_work(*args, **kwargs)

    return GraphQLResolveInfoHelpers(gather=gather, track=track)


def _alive(executor_ref: weakref.ref[Executor]) -> Executor:
    executor = executor_ref()
    if executor is None:  # a resolver's helper outlived its execution
        raise RuntimeError("the execution these helpers belong to has finished")
    return executor


def _share_data(result: ExecutionResult) -> None:
    if not result.errors and type(result.data) is dict:
        result.data = SharedData(result.data)


def _fresh_memos(executor: Executor) -> None:
    for name, factory in _PER_EXECUTION_MEMOS.items():
        if hasattr(executor, name):
            setattr(executor, name, factory())


class _Same:
    """An object as a key by identity; the key keeps it alive, so its id stays its own."""

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.obj is self.obj
