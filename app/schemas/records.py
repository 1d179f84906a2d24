from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    computed_field,
    field_serializer,
    field_validator,
)

from app.i18n import translate
from app.kit.pagination import Page
from app.kit.problems import Problem
from app.kit.times import Instant
from app.models.records import Reason, RecordSource, RecordStatus

# The keys of a methodology's breakdown whose values are written for people.
BREAKDOWN_PROSE = frozenset({"formula", "rounding"})

RECORD_EXAMPLE: Any = {
    "client_event_id": "c0a8e1f2-2026-11-23-0830",
    "type": "transit.metro",
    "occurred_at": "2026-11-23T08:30:00+08:00",
    "data": {"distance_km": 12.4, "duration_min": 31},
}
RESULT_EXAMPLE: Any = {
    "id": "0b6e4c1a-5a1e-4b8e-9d55-3c1f0e2a7b90",
    "client_event_id": "c0a8e1f2-2026-11-23-0830",
    "type": "transit.metro",
    "status": "credited",
    "reduction_g": 579,
    "points": 579,
    "reasons": [],
    "reason_descriptions": [],
    "methodology": {"code": "transit.metro", "version": 1},
    "occurred_at": "2026-11-23T00:30:00+00:00",
    "received_at": "2026-11-23T00:31:02+00:00",
    "source": "app",
    "reversed_at": None,
}


class RecordIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [RECORD_EXAMPLE]})

    client_event_id: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[\x21-\x7e]+$",
        description="Chosen by the client; the same id is the same record",
    )
    type: str = Field(min_length=1, max_length=64, description="Methodology code")
    occurred_at: Instant = Field(description="When it happened (RFC 3339 with offset)")
    data: dict[str, Any] = Field(description="Validated by the methodology's input_schema")


class BatchIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"events": [RECORD_EXAMPLE]}]}
    )

    events: list[dict[str, Any]] = Field(min_length=1, max_length=500)


class PartnerRecordIn(RecordIn):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"user_ref": "card-3108-5521", **RECORD_EXAMPLE}]},
    )

    user_ref: str = Field(
        min_length=1,
        max_length=200,
        description="A user id, or an external reference the user linked",
    )


class PartnerBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[dict[str, Any]] = Field(min_length=1, max_length=1000)


REASON_DESCRIPTIONS: dict[Reason, str] = {
    Reason.IMPLAUSIBLE_SPEED: "The speed is not plausible for this kind of trip.",
    Reason.IMPLAUSIBLE_AMOUNT: "The amount is larger than is plausible.",
    Reason.TOO_LATE: "The record arrived too long after it happened.",
    Reason.IN_FUTURE: "The record's time is in the future.",
    Reason.OVERLAPPING_ACTIVITY: "It overlaps another of your activities.",
    Reason.NEEDS_REVIEW: "It waits for a reviewer before any points are credited.",
    Reason.DAILY_CAP_REACHED: "Today's points limit for this activity was reached; "
    "the reduction still counts.",
    Reason.REJECTED_BY_REVIEW: "A reviewer rejected it.",
    Reason.REVERSED_BY_ADMIN: "An administrator reversed it and took the points back.",
    Reason.PRODUCT_NOT_VALID: "The product has no carbon label in force on the purchase date.",
}


class ReasonDescription(BaseModel):
    reason: Reason
    description: str = Field(description="In the language of the request")


class MethodologyRef(BaseModel):
    code: str
    version: int


# Built from the row (``Record.methodology`` gives the reference); the owner's view.
class RecordOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [RESULT_EXAMPLE]}
    )

    id: str
    client_event_id: str
    type: str
    status: RecordStatus
    reduction_g: int = Field(description="Verified reduction, whole grams CO2e")
    points: int
    reasons: list[Reason] = Field(description="Machine-readable codes, e.g. daily_cap_reached")
    methodology: MethodologyRef
    occurred_at: Instant
    received_at: Instant
    source: RecordSource
    reversed_at: Instant | None = None

    @computed_field(  # type: ignore[prop-decorator]
        description="Each reason explained, in the language of the request"
    )
    @property
    def reason_descriptions(self) -> list[ReasonDescription]:
        return [
            ReasonDescription(reason=r, description=translate(REASON_DESCRIPTIONS[r]))
            for r in self.reasons
        ]


class RecordDetailOut(RecordOut):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **RESULT_EXAMPLE,
                    "data": {"distance_km": "12.4", "duration_min": "31"},
                    "region": "CN-SX",
                    "local_day": "2026-11-23",
                    "params_hash": "9f2c…",
                    "breakdown": {
                        "formula": "ER = distance_km × reduction_g_per_pkm",
                        "distance_km": "12.4",
                        "reduction_g_per_pkm": "46.7",
                        "exact_g": "579.08",
                        "reduction_g": 579,
                        "points": 579,
                    },
                    "decided_at": None,
                    "decision_note": None,
                }
            ]
        }
    )

    data: dict[str, Any]
    region: str | None
    local_day: str
    params_hash: str
    breakdown: dict[str, Any] = Field(description="Every factor read and every intermediate")
    decided_at: Instant | None = None
    decision_note: str | None = None

    @field_serializer("breakdown")
    def _breakdown_in_language(self, breakdown: dict[str, Any]) -> dict[str, Any]:
        """The stored calculation as it was, its prose (the formula, the rounding) in the
        language of the request; every number and code stays as stored."""
        return {
            key: translate(value) if key in BREAKDOWN_PROSE and isinstance(value, str) else value
            for key, value in breakdown.items()
        }


class ItemResult(BaseModel):
    """One batch item: a result as POST /v1/events gives it, or ``status: invalid``."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {**RESULT_EXAMPLE, "replayed": False},
                {
                    "status": "invalid",
                    "error": {
                        "type": "https://tanhui.example/problems/unknown_type",
                        "title": "Unknown methodology",
                        "status": 422,
                        "detail": "Unknown type 'flying'.",
                        "code": "unknown_type",
                    },
                },
            ]
        },
    )

    status: RecordStatus | Literal["invalid"]
    replayed: bool | None = Field(default=None, description="True when it was a replay")
    error: Problem | None = Field(default=None, description="Why an invalid item was refused")


class BatchOut(BaseModel):
    results: list[ItemResult]


class RecordsPage(Page[RecordOut]):
    """Newest received first."""


# --- leaderboards ---------------------------------------------------------------------------


class LeaderboardEntry(BaseModel):
    rank: int = Field(ge=1, description="Equal scores share a rank (1, 2, 2, 4)")
    display_name: str | None
    reduction_g: int
    is_me: bool


class LeaderboardMe(BaseModel):
    rank: int = Field(ge=1)
    reduction_g: int


class LeaderboardOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "period": "week",
                    "bucket": "2026-W48",
                    "region": None,
                    "items": [
                        {"rank": 1, "display_name": "Li Wei", "reduction_g": 5210, "is_me": False},
                        {"rank": 2, "display_name": None, "reduction_g": 4870, "is_me": True},
                    ],
                    "me": {"rank": 2, "reduction_g": 4870},
                }
            ]
        }
    )

    period: Literal["day", "week", "month", "all"]
    bucket: str = Field(description="The day, ISO week, month or all, in the platform time zone")
    region: str | None
    items: list[LeaderboardEntry]
    me: LeaderboardMe | None = Field(description="The caller's place; null without a score")


class RebuildOut(BaseModel):
    rebuilt_from_rows: int = Field(description="Credited records read")


_TIME = "2026-11-23T08:30:00+00:00"
_USER = "3f0c6a0e-8a53-4c47-9a51-2b7b0b8f1c11"
_ADMIN = "0b6c2e4a-7d1f-4f3e-9c8a-1e2d3c4b5a69"
_RECORD = "7a1d3c5e-2b4f-4e6a-8c0d-9e1f2a3b4c5d"


# --- records: review and reversal -----------------------------------------------------------


_ADMIN_RECORD: dict[str, Any] = {
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


# Built from the row, like ``RecordOut``; what administrators see.
class AdminRecordOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={"examples": [_ADMIN_RECORD]},
    )

    id: str
    user_id: str
    client_event_id: str
    type: str
    status: RecordStatus
    source: RecordSource
    region: str | None
    data: dict[str, Any]
    reduction_g: int
    points: int
    reasons: list[Reason]
    methodology: MethodologyRef
    occurred_at: Instant
    received_at: Instant
    transaction_id: str | None
    decided_by: str | None
    decided_at: Instant | None
    decision_note: str | None
    reversed_at: Instant | None


class AdminRecordDetailOut(AdminRecordOut):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                _ADMIN_RECORD
                | {
                    "local_day": "2026-11-23",
                    "params_hash": "9f2c…",
                    "breakdown": {"baseline_kwh": "12", "actual_kwh": "10", "grams": 1272},
                }
            ]
        }
    )
    local_day: str = Field(description="The record's day in the platform's time zone")
    params_hash: str | None = Field(description="Hash of the parameter version applied")
    breakdown: dict[str, Any] | None = Field(
        description="The calculation: every factor read and every intermediate"
    )


class ReviewPage(Page[AdminRecordOut]):
    """Oldest received first."""


class AdminRecordsPage(Page[AdminRecordOut]):
    """One citizen's records, newest received first."""


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
