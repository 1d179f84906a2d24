from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class MethodologyOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "transit.metro",
                    "name": "Metro ride",
                    "unit": "g CO2e per passenger-km",
                    "version": 1,
                    "effective_from": "1970-01-01T00:00:00+00:00",
                    "params_hash": "9f2c…",
                    "input_schema": {
                        "type": "object",
                        "properties": {
                            "distance_km": {"type": "number"},
                            "duration_min": {"type": "number"},
                        },
                    },
                }
            ]
        }
    )

    code: str
    name: str
    unit: str = Field(description="Unit of the methodology's main factor")
    version: int | None = Field(description="The version in force now")
    effective_from: datetime | None = None
    params_hash: str | None = None
    input_schema: dict[str, Any] = Field(description="JSON Schema of a record's data")


class MethodologyDetailOut(MethodologyOut):
    params: dict[str, Any] = Field(description="Current parameter values (Decimals as strings)")
    params_schema: dict[str, Any]


class MethodologyList(BaseModel):
    items: list[MethodologyOut]
