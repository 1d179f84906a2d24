from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.kit.pagination import Page
from app.kit.times import Instant
from app.models.trust import AuditRunStatus, BatchStatus

_BATCH_EXAMPLE: dict[str, Any] = {
    "id": "0d7c5f3e-4a39-4c59-9d5e-1f0e3b7c2a10",
    "serial_from": "TANHUI-GD-2026-000001",
    "serial_to": "TANHUI-GD-2026-000012",
    "tonnes": 12,
    "reduction_g": 12_400_310,
    "records": 25_870,
    "carried_in_g": 0,
    "carried_out_g": 400_310,
    "buffer_deduction_g": 0,
    "status": "issued",
    "holder": None,
    "beneficiary": None,
    "methodology": None,
    "region": "CN-GD",
    "vintage": 2026,
    "from": "2026-01-01T00:00:00+08:00",
    "to": "2026-07-01T00:00:00+08:00",
    "versions": [
        {"methodology": "transit.metro", "version": 1, "params_hash": "3f2a…", "records": 25_870}
    ],
    "hash": "c0ffee…",
    "note": "H1 metro",
    "issued_at": "2026-07-02T09:00:00+00:00",
    "final_at": None,
}


class ReductionBatchIn(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "region": "CN-GD",
                    "from": "2026-01-01T00:00:00+08:00",
                    "to": "2026-07-01T00:00:00+08:00",
                    "note": "H1",
                }
            ]
        },
    )

    methodology: str | None = Field(default=None, max_length=64)
    region: str | None = Field(default=None, pattern=r"^[A-Z]{2}-[A-Z0-9]{1,3}$")
    start: Instant = Field(alias="from", description="Records that occurred from (inclusive)")
    end: Instant = Field(alias="to", description="…until (exclusive); the same year as from")
    note: str = Field(min_length=1, max_length=2000)


class ReductionBatchOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True, json_schema_extra={"examples": [_BATCH_EXAMPLE]}
    )

    id: str
    serial_from: str
    serial_to: str
    tonnes: int
    reduction_g: int = Field(description="Grams of the batch's own records")
    records: int
    carried_in_g: int = Field(description="Grams carried over from the series' previous batch")
    carried_out_g: int = Field(description="Grams under a tonne carried to the next batch")
    buffer_deduction_g: int = Field(description="Grams of member records reversed since")
    status: BatchStatus
    holder: str | None
    beneficiary: str | None
    methodology: str | None
    region: str | None
    vintage: int
    start: Instant = Field(alias="from")
    end: Instant = Field(alias="to")
    versions: list[dict[str, Any]]
    hash: str
    note: str | None
    issued_at: Instant
    final_at: Instant | None


ReductionBatchesPage = Page[ReductionBatchOut]


class ReductionBatchExport(BaseModel):
    """The JSON form of a batch's export: the batch, then one item per member record."""

    batch: ReductionBatchOut
    records: list[dict[str, Any]] = Field(
        description="Each member record: batch_id, record_id, methodology, version, "
        "params_hash, occurred_at, region, reduction_g"
    )


class RetireIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    beneficiary: str = Field(min_length=1, max_length=200)
    note: str = Field(min_length=1, max_length=2000)


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: str = Field(min_length=1, max_length=200, description="The new holder")
    note: str = Field(min_length=1, max_length=2000)


class PublicBatchOut(BaseModel):
    """What anyone may know of a serial: no record and no citizen."""

    model_config = ConfigDict(populate_by_name=True)

    serial: str
    batch_id: str
    status: BatchStatus
    holder: str | None
    beneficiary: str | None
    serial_from: str
    serial_to: str
    tonnes: int
    reduction_g: int
    records: int
    buffer_deduction_g: int
    region: str | None
    vintage: int
    versions: list[dict[str, Any]]
    hash: str
    issued_at: Instant
    final_at: Instant | None


class RecomputeIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    start: Instant | None = Field(default=None, alias="from")
    end: Instant | None = Field(default=None, alias="to")
    methodology: str | None = Field(default=None, max_length=64)


class AuditStarted(BaseModel):
    id: str


class AuditRunOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5b0f…",
                    "kind": "recompute",
                    "status": "done",
                    "params": {"from": None, "to": None, "methodology": None},
                    "checked": 1_000_000,
                    "mismatch_count": 1,
                    "mismatches": [
                        {
                            "record_id": "9e1c…",
                            "methodology": "transit.metro",
                            "version": 1,
                            "stored": {"reduction_g": 934, "points": 934},
                            "recomputed": {"reduction_g": 467, "points": 467},
                        }
                    ],
                    "error": None,
                    "created_at": "2026-11-25T17:00:00+00:00",
                    "finished_at": "2026-11-25T17:01:00+00:00",
                }
            ]
        }
    )

    id: str
    kind: str
    status: AuditRunStatus
    params: dict[str, Any]
    checked: int
    mismatch_count: int
    mismatches: list[dict[str, Any]]
    error: str | None
    created_at: Instant
    finished_at: Instant | None
    heartbeat_at: Instant | None = Field(
        default=None,
        description="The last sign of life of a running audit; one silent for a minute is "
        "`interrupted` (its process ended) and a new one can be started.",
    )
