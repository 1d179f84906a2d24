"""Bodies of the health endpoints."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class LiveOut(BaseModel):
    status: Literal["ok"]


class ReadyOut(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [{"status": "ready", "checks": {"database": "ok", "redis": "ok"}}]
        }
    }

    status: Literal["ready"]
    checks: dict[str, Literal["ok", "unreachable"]] = Field(
        description="Each dependency: the database, and Redis when one is configured"
    )
