"""What every partial update (PATCH) body of communities shares."""

from __future__ import annotations

from pydantic import BaseModel


def require_changes(body: BaseModel) -> None:
    """A PATCH body sends at least one field, and no field as null: null would mean "clear",
    and none of these fields can be cleared except the validity dates (see ``NULLABLE``)."""
    sent = body.model_fields_set
    if not sent:
        raise ValueError("send at least one field to change")
    nullable: frozenset[str] = getattr(body, "NULLABLE", frozenset())
    nulls = sorted(k for k in sent if getattr(body, k) is None and k not in nullable)
    if nulls:
        raise ValueError(f"these fields cannot be null: {', '.join(nulls)}")
