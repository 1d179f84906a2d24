from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable machine-readable error code")
    reason: str | None = Field(
        default=None, description="Stable machine-readable refinement of code, when there is one"
    )
    errors: list[dict[str, Any]] | None = Field(default=None, description="Offending fields")


def refuse_nulls(model: BaseModel, *names: str) -> None:
    """In a PATCH body an absent field means "unchanged"; an explicit null for a field that
    cannot be empty is an error, not a silent no-op."""
    for name in names:
        if name in model.model_fields_set and getattr(model, name) is None:
            raise ValueError(f"{name} cannot be null")
