"""Input validation with pydantic models, reported as field-addressed ``VALIDATION_ERROR``s."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from services.errors import DomainError, ErrorCode, ValidationFailed

M = TypeVar("M", bound=BaseModel)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def validate(model: type[M], data: dict[str, Any], *, prefix: tuple[str, ...] = ("input",)) -> M:
    """Build ``model`` from ``data`` or raise ``ValidationFailed`` listing every problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            DomainError(
                ErrorCode.VALIDATION_ERROR,
                _message(err),
                [*prefix, *(camel(str(part)) for part in err["loc"] if not isinstance(part, int))],
            )
            for err in exc.errors(include_url=False, include_input=False)
        ]
        raise ValidationFailed(problems) from None


def _message(err: Any) -> str:
    message = str(err.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")
