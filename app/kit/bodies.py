"""Helpers for request bodies that every domain's schemas share."""

from __future__ import annotations

from pydantic import BaseModel


def refuse_nulls(model: BaseModel, *names: str) -> None:
    """In a PATCH body an absent field means "unchanged"; an explicit null for a field that
    cannot be empty is an error, not a silent no-op."""
    for name in names:
        if name in model.model_fields_set and getattr(model, name) is None:
            raise ValueError(f"{name} cannot be null")
