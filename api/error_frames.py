"""Drop the stack frames that finished errors still hold.

An error keeps its traceback, the traceback its frames, and those frames their locals: the
executor or validator that collected the error, which holds the error again, and the document.
Each such error is a reference cycle, so a request that failed anywhere left its whole document
and execution state for the full garbage collection, which then held the event loop for
hundreds of milliseconds (issue 17). Once an error has been logged and formatted, its frames
serve nothing; without them the request's objects are freed by reference counting when it ends.
"""

from __future__ import annotations

from collections.abc import Iterable

_MAX_CHAIN = 16  # causes and contexts followed per error


def release_frames(errors: Iterable[BaseException] | None) -> None:
    """Clears the tracebacks of ``errors`` and of what caused them (their frames are dropped)."""
    if not errors:
        return
    for error in errors:
        seen = 0
        current: BaseException | None = error
        while current is not None and seen < _MAX_CHAIN:
            current.__traceback__ = None
            original = getattr(current, "original_error", None)
            if isinstance(original, BaseException) and original is not current:
                release_frames((original,))
            current = current.__cause__ or current.__context__
            seen += 1
