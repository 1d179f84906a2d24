"""Administration: methodology versions and simulation, review, reversal, reports, audit, users."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from app.kit.pagination import Page
from app.models.users import ROLES

_TIME = "2026-11-23T08:30:00+00:00"
_USER = "3f0c6a0e-8a53-4c47-9a51-2b7b0b8f1c11"
_ADMIN = "0b6c2e4a-7d1f-4f3e-9c8a-1e2d3c4b5a69"
_RECORD = "7a1d3c5e-2b4f-4e6a-8c0d-9e1f2a3b4c5d"
_METRO_PARAMS: Any = {"reduction_g_per_pkm": "50.0", "daily_cap_points": 2000, "points_per_g": "1"}

Role = Literal["citizen", "merchant", "admin", "auditor"]
assert set(ROLES) == set(get_args(Role))  # the model's list and the schema's must agree


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
    effective_from: AwareDatetime = Field(description="Now or later; never in the past")
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
    effective_from: datetime
    note: str | None
    created_by: str | None
    created_at: datetime


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
    start: AwareDatetime = Field(alias="from", description="Records with occurred_at >= from")
    end: AwareDatetime = Field(alias="to", description="… and occurred_at < to")


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


class SimChange(BaseModel):
    record_id: str
    user_id: str
    occurred_at: datetime
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
    start: datetime = Field(alias="from", serialization_alias="from")
    end: datetime = Field(alias="to", serialization_alias="to")
    records: int
    current: SimTotals
    proposed: SimTotals
    delta: SimAmounts
    by_status: SimByStatus
    by_region: list[SimRegion]
    top_changes: list[SimChange] = Field(description="The 20 records whose points change most")


# --- records: review and reversal -----------------------------------------------------------


class MethodologyRef(BaseModel):
    code: str
    version: int


class AdminRecordOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _RECORD,
                    "user_id": _USER,
                    "client_event_id": "c0a8-2026-11-23-0830",
                    "type": "energy.electricity_saving",
                    "status": "pending_review",
                    "source": "app",
                    "region": "CN-SX",
                    "data": {"baseline_kwh": 12, "actual_kwh": 10, "period_days": 7},
                    "reduction_g": 1272,
                    "points": 0,
                    "reasons": ["needs_review"],
                    "methodology": {"code": "energy.electricity_saving", "version": 1},
                    "occurred_at": _TIME,
                    "received_at": _TIME,
                    "transaction_id": None,
                    "decided_by": None,
                    "decided_at": None,
                    "decision_note": None,
                    "reversed_at": None,
                }
            ]
        }
    )

    id: str
    user_id: str
    client_event_id: str
    type: str
    status: str
    source: str
    region: str | None
    data: dict[str, Any]
    reduction_g: int
    points: int
    reasons: list[str]
    methodology: MethodologyRef
    occurred_at: datetime
    received_at: datetime
    transaction_id: str | None
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    reversed_at: datetime | None


class ReviewPage(Page[AdminRecordOut]):
    """Oldest received first."""


def _non_blank(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


class ApproveIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"note": "Meter photo matches"}]}
    )

    note: str | None = Field(default=None, max_length=2000)

    _strip = field_validator("note")(_non_blank)


class ReasonIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "Same ride claimed through two channels"}]},
    )

    reason: str = Field(min_length=1, max_length=2000)

    _strip = field_validator("reason")(_non_blank)


# --- reports --------------------------------------------------------------------------------

GroupBy = Literal["methodology", "region", "day"]


class ReportRow(BaseModel):
    key: str | None = Field(description="Methodology code, region (null = none) or local day")
    records: int
    reduction_g: int
    points: int


class ReportTotals(BaseModel):
    records: int
    reduction_g: int
    points: int


class ReportOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "from": "2026-11-01T00:00:00+08:00",
                    "to": "2026-12-01T00:00:00+08:00",
                    "group_by": "methodology",
                    "rows": [
                        {"key": "cycling", "records": 3, "reduction_g": 360, "points": 360},
                        {"key": "transit.metro", "records": 2, "reduction_g": 1401, "points": 1401},
                    ],
                    "totals": {"records": 5, "reduction_g": 1761, "points": 1761},
                }
            ]
        },
    )

    start: datetime = Field(alias="from", serialization_alias="from")
    end: datetime = Field(alias="to", serialization_alias="to")
    group_by: GroupBy
    rows: list[ReportRow]
    totals: ReportTotals


# --- audit ----------------------------------------------------------------------------------


class AuditOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "seq": 42,
                    "created_at": _TIME,
                    "actor_id": _ADMIN,
                    "actor_role": "admin",
                    "action": "record.reversed",
                    "target_type": "record",
                    "target_id": _RECORD,
                    "before": {"status": "credited", "points": 467, "reversed_at": None},
                    "after": {"status": "credited", "points": 467, "reversed_at": _TIME},
                }
            ]
        },
    )

    seq: int
    created_at: datetime
    actor_id: str | None
    actor_role: str | None
    action: str
    target_type: str
    target_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditPage(Page[AuditOut]):
    """Newest first."""


# --- users ----------------------------------------------------------------------------------


class AdminUserOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": _USER,
                    "email": "li.wei@example.cn",
                    "role": "auditor",
                    "display_name": "Li Wei",
                    "region": "CN-SX",
                    "merchant_id": None,
                    "is_active": True,
                    "created_at": _TIME,
                }
            ]
        },
    )

    id: str
    email: str
    role: str
    display_name: str | None
    region: str | None
    merchant_id: str | None
    is_active: bool
    created_at: datetime


class UsersPage(Page[AdminUserOut]):
    """Newest first."""


class UserPatchIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"role": "auditor"},
                {"role": "merchant", "merchant_id": "5e8a3f20-1c7b-4a92-b0d4-6f1e2c3a4b5d"},
                {"is_active": False},
            ]
        },
    )

    role: Role | None = None
    is_active: bool | None = None
    merchant_id: str | None = Field(
        default=None, max_length=36, description="Required when the role becomes merchant"
    )
