"""Administration: reports, the audit log, user accounts."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from app.kit.pagination import Page
from app.kit.times import Instant
from app.models.identity import Role

_TIME = "2026-11-23T08:30:00+00:00"
_USER = "3f0c6a0e-8a53-4c47-9a51-2b7b0b8f1c11"
_ADMIN = "0b6c2e4a-7d1f-4f3e-9c8a-1e2d3c4b5a69"
_RECORD = "7a1d3c5e-2b4f-4e6a-8c0d-9e1f2a3b4c5d"

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

    start: Instant = Field(alias="from", serialization_alias="from")
    end: Instant = Field(alias="to", serialization_alias="to")
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
    created_at: Instant
    actor_id: str | None
    actor_role: Role | None
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
    role: Role
    display_name: str | None
    region: str | None
    merchant_id: str | None
    is_active: bool
    created_at: Instant


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
    is_active: StrictBool | None = None
    merchant_id: str | None = Field(
        default=None, max_length=36, description="Required when the role becomes merchant"
    )
