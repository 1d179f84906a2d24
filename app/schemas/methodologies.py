from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from app.i18n import translate
from app.kit.times import Instant

_METHODOLOGY_EXAMPLE: dict[str, Any] = {
    "code": "transit.metro",
    "name": "Metro ride",
    "description": "A trip by metro instead of by car, counted per passenger-km.",
    "unit": "g CO2e per passenger-km",
    "version": 1,
    "effective_from": "1970-01-01T00:00:00.000000Z",
    "params_hash": "9f2c…",
    "input_schema": {
        "type": "object",
        "properties": {
            "distance_km": {"type": "number"},
            "duration_min": {"type": "number"},
        },
    },
}


class MethodologyOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_METHODOLOGY_EXAMPLE]})

    code: str
    name: str = Field(description="In the language of the request")
    description: str = Field("", description="In the language of the request")
    unit: str = Field(description="Unit of the methodology's main factor")
    version: int | None = Field(description="The version in force now")
    effective_from: Instant | None = None
    params_hash: str | None = None
    input_schema: dict[str, Any] = Field(description="JSON Schema of a record's data")

    @field_serializer("name", "description")
    def _in_language(self, text: str) -> str:
        return translate(text)


class MethodologyDetailOut(MethodologyOut):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_METHODOLOGY_EXAMPLE,
                    "params": {"reduction_g_per_pkm": "46.7", "max_speed_kmh": "120"},
                    "params_schema": {
                        "type": "object",
                        "properties": {"reduction_g_per_pkm": {"type": "string"}},
                    },
                }
            ]
        }
    )

    params: dict[str, Any] = Field(description="Current parameter values (Decimals as strings)")
    params_schema: dict[str, Any]


class MethodologyList(BaseModel):
    items: list[MethodologyOut]


_TIME = "2026-11-23T08:30:00+00:00"
_USER = "3f0c6a0e-8a53-4c47-9a51-2b7b0b8f1c11"
_ADMIN = "0b6c2e4a-7d1f-4f3e-9c8a-1e2d3c4b5a69"
_RECORD = "7a1d3c5e-2b4f-4e6a-8c0d-9e1f2a3b4c5d"
_METRO_PARAMS: Any = {"reduction_g_per_pkm": "50.0", "daily_cap_points": 2000, "points_per_g": "1"}


# --- methodology versions -------------------------------------------------------------------


class VersionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "params": _METRO_PARAMS,
                    "effective_from": "2027-01-01T00:00:00+08:00",
                    "note": "Shanxi metro factor published 2026-12",
                }
            ]
        },
    )

    params: dict[str, Any] = Field(
        description="Every parameter of the methodology, in the shape of its parameter schema"
    )
    effective_from: Instant = Field(description="Now or later; never in the past")
    note: str | None = Field(default=None, max_length=2000)


class VersionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "transit.metro",
                    "version": 2,
                    "params": _METRO_PARAMS,
                    "params_hash": "9f2c…",
                    "effective_from": "2027-01-01T00:00:00+08:00",
                    "note": "Shanxi metro factor published 2026-12",
                    "created_by": _ADMIN,
                    "created_at": _TIME,
                }
            ]
        }
    )

    code: str
    version: int
    params: dict[str, Any]
    params_hash: str
    effective_from: Instant
    note: str | None
    created_by: str | None
    created_at: Instant


class VersionsOut(BaseModel):
    items: list[VersionOut] = Field(description="Oldest first")


# --- simulation -----------------------------------------------------------------------------


class SimulateIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "params": _METRO_PARAMS,
                    "from": "2026-11-01T00:00:00+08:00",
                    "to": "2026-12-01T00:00:00+08:00",
                }
            ]
        },
    )

    params: dict[str, Any]
    start: Instant = Field(alias="from", description="Records with occurred_at >= from")
    end: Instant = Field(alias="to", description="… and occurred_at < to")


class SimTotals(BaseModel):
    reduction_g: int
    points: int
    credited: int = Field(description="Records credited")
    rejected: int
    pending_review: int
    cap_hits: int = Field(description="Credited records whose points the daily cap reduced")


class SimAmounts(BaseModel):
    reduction_g: int
    points: int


class StatusAmounts(BaseModel):
    records: int
    reduction_g: int
    points: int


class SimByStatus(BaseModel):
    current: dict[str, StatusAmounts]
    proposed: dict[str, StatusAmounts]


class SimRegion(BaseModel):
    region: str | None = Field(description="The record's region; null = no region (defaults)")
    current: SimAmounts
    proposed: SimAmounts


class SimDay(BaseModel):
    day: str = Field(description="Local day of occurrence in the platform's time zone")
    current: SimAmounts
    proposed: SimAmounts


class SimChange(BaseModel):
    record_id: str
    user_id: str
    occurred_at: Instant
    current_reduction_g: int
    proposed_reduction_g: int
    current_points: int
    proposed_points: int


class SimulateOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "code": "transit.metro",
                    "from": "2026-11-01T00:00:00+08:00",
                    "to": "2026-12-01T00:00:00+08:00",
                    "records": 2,
                    "current": {
                        "reduction_g": 1401,
                        "points": 1401,
                        "credited": 2,
                        "rejected": 0,
                        "pending_review": 0,
                        "cap_hits": 0,
                    },
                    "proposed": {
                        "reduction_g": 1500,
                        "points": 1500,
                        "credited": 2,
                        "rejected": 0,
                        "pending_review": 0,
                        "cap_hits": 0,
                    },
                    "delta": {"reduction_g": 99, "points": 99},
                    "by_status": {
                        "current": {
                            "credited": {"records": 2, "reduction_g": 1401, "points": 1401}
                        },
                        "proposed": {
                            "credited": {"records": 2, "reduction_g": 1500, "points": 1500}
                        },
                    },
                    "by_region": [
                        {
                            "region": "CN-SX",
                            "current": {"reduction_g": 1401, "points": 1401},
                            "proposed": {"reduction_g": 1500, "points": 1500},
                        }
                    ],
                    "by_day": [
                        {
                            "day": "2026-11-23",
                            "current": {"reduction_g": 1401, "points": 1401},
                            "proposed": {"reduction_g": 1500, "points": 1500},
                        }
                    ],
                    "top_changes": [
                        {
                            "record_id": _RECORD,
                            "user_id": _USER,
                            "occurred_at": _TIME,
                            "current_reduction_g": 934,
                            "proposed_reduction_g": 1000,
                            "current_points": 934,
                            "proposed_points": 1000,
                        }
                    ],
                }
            ]
        },
    )

    code: str
    start: Instant = Field(alias="from", serialization_alias="from")
    end: Instant = Field(alias="to", serialization_alias="to")
    records: int
    current: SimTotals
    proposed: SimTotals
    delta: SimAmounts
    by_status: SimByStatus
    by_region: list[SimRegion]
    by_day: list[SimDay] = Field(description="Days with records, in order")
    top_changes: list[SimChange] = Field(description="The 20 records whose points change most")
