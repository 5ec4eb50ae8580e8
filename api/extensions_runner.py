"""strawberry's extension runner, minus the per-result lookups of a subscription's stream.

For every event a subscription sends, strawberry's runner asked each extension for its results
(awaiting each answer, ten extensions here, most of which inherit ``{}``) and built the
``on_stream_result`` hooks again by inspecting every extension. An operation's extensions do
not change while it runs, so this runner works out once which of them define either hook and
then calls only those, in the same order, with the same arguments, for every result.
"""

from __future__ import annotations

from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import StreamResultContextManager, WrappedHook
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext
from strawberry.utils.await_maybe import await_maybe

_DEFAULT_GET_RESULTS = SchemaExtension.get_results


class _PreparedStreamResult(StreamResultContextManager):
    """A ``StreamResultContextManager`` whose hooks were looked up beforehand."""

    def __init__(self, hooks: list[WrappedHook], result: Any) -> None:  # no super().__init__
        self.result = result
        self.hooks = hooks
        self.default_hook = SchemaExtension.on_stream_result


class LeanExtensionsRunner(SchemaExtensionsRunner):
    def __init__(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension] | None = None
    ) -> None:
        super().__init__(execution_context, extensions)
        self._stream_hooks: list[WrappedHook] | None = None
        self._reporting = [
            extension
            for extension in self.extensions
            if type(extension).get_results is not _DEFAULT_GET_RESULTS
            or "get_results" in vars(extension)
        ]

    def on_stream_result(self, result: Any) -> StreamResultContextManager:
        hooks = self._stream_hooks
        if hooks is None:
            hooks = self._stream_hooks = StreamResultContextManager(self.extensions, result).hooks
        return _PreparedStreamResult(hooks, result)

    async def get_extensions_results(self, ctx: ExecutionContext) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for extension in self._reporting:
            data.update(await await_maybe(extension.get_results()))
        data.update(ctx.extensions_results)
        return data
