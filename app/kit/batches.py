"""Batches whose items are checked alone: an item's failure is its own result, not the batch's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from app.kit.errors import DomainError, ValidationFailed
from app.kit.inputs import MESSAGE, find_unstorable
from app.kit.problems import domain_problem, validation_errors

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


def parse_item(raw: Any, model: type[M]) -> M | DomainError:
    """One batch item, validated alone: its failure is its own result, not the batch's."""
    if unstorable := [".".join(map(str, loc)) for loc in find_unstorable(raw)]:
        return ValidationFailed(
            "The record has text that cannot be stored.",
            errors=[{"field": f, "message": MESSAGE} for f in unstorable],
        )
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        return ValidationFailed(
            "The record has invalid or missing fields.", errors=validation_errors(exc.errors())
        )


def item_result(outcome: T | DomainError, view: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    """A batch item's answer: its view, or its error as a problem body."""
    if isinstance(outcome, DomainError):
        return {"status": "invalid", "error": domain_problem(outcome)}
    return view(outcome)
