"""Our graphql-core execution context: strawberry's, minus a per-message subscription leak.

graphql-core 3.3.2 runs each subscription message on ``build_per_event_executor()``, a shallow
``copy()`` of the subscription's executor. The copy shares the memo dicts of the original, and
``collect_subfields`` memoizes on ``id()`` of a field list that is new for every message: each
delivered message therefore left about 16 objects in a dict that lives as long as the
subscription (measured in the performance baseline; the regression test is
``tests/api/test_subscription_leak.py``). A per-message executor gets memo tables of its own,
which die with it.
"""

from __future__ import annotations

from typing import Any

from graphql.execution.executor import Executor
from graphql.pyutils import RefMap
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

# Memo tables that are filled per execution and keyed by per-execution objects.
_PER_EXECUTION_MEMOS: dict[str, type] = {
    "_relevant_sub_fields": dict,
    "_stream_usages": RefMap,
    "_initial_execution_plans": RefMap,
    "_deferred_execution_plans": RefMap,
}


class PayoutsExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def build_per_event_executor(self, payload: Any) -> Executor:
        executor = super().build_per_event_executor(payload)
        for name, factory in _PER_EXECUTION_MEMOS.items():
            if hasattr(executor, name):
                setattr(executor, name, factory())
        return executor
