"""Organisations over HTTP: registration, membership, statistics and the leaderboard."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.kit.pagination import Page
from app.kit.times import Instant
from app.models.communities import OrganisationKind
from app.schemas.communities.patches import require_changes
from app.schemas.identity import REGION_PATTERN

ORG_EXAMPLE: dict[str, Any] = {
    "id": "3f9a2c4e-1b6d-4e8f-a0c2-5d7e9f1b3a6c",
    "name": "Yingze Street Community",
    "kind": "community",
    "region": "CN-SX",
    "member_count": 412,
    "active": True,
    "created_at": "2026-11-20T02:00:00+00:00",
}


class OrganisationIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "Yingze Street Community", "kind": "community", "region": "CN-SX"}
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    kind: OrganisationKind
    region: str = Field(pattern=REGION_PATTERN, description="ISO 3166-2 code, e.g. CN-SX")


class OrganisationOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ORG_EXAMPLE]})

    id: str
    name: str
    kind: OrganisationKind
    region: str
    member_count: int
    active: bool = Field(description="false: retired, accepts no new members")
    created_at: Instant


class AdminOrganisationOut(OrganisationOut):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{**ORG_EXAMPLE, "join_code": "K7QM4TZP", "retired_at": None}]
        }
    )

    join_code: str = Field(
        description="What citizens enter to join; share it with members. It stops working "
        "while the organisation is retired"
    )
    retired_at: Instant | None = Field(description="When it was retired; null while active")


class AdminOrganisationsPage(Page[AdminOrganisationOut]):
    pass


class OrganisationPatch(BaseModel):
    """Only the fields sent change; at least one must be sent."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"active": False}, {"name": "Yingze Street Community"}]},
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    active: bool | None = Field(
        default=None,
        description="false retires the organisation: no joins, its join code stops working; "
        "members, statistics and past leaderboards stay. true reinstates it.",
    )

    @model_validator(mode="after")
    def _something_and_no_nulls(self) -> OrganisationPatch:
        require_changes(self)
        return self


class OrganisationsPage(Page[OrganisationOut]):
    pass


class JoinIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"join_code": "K7QM4TZP"}]}
    )

    join_code: str = Field(min_length=1, max_length=32)


class MembershipOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"organisation": ORG_EXAMPLE, "joined_at": "2026-11-25T01:00:00+00:00"}]
        }
    )

    organisation: OrganisationOut
    joined_at: Instant


class MembershipsOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"items": [{"organisation": ORG_EXAMPLE, "joined_at": "2026-11-25T01:00:00+00:00"}]}
            ]
        }
    )

    items: list[MembershipOut]


class OrganisationRef(BaseModel):
    id: str
    name: str
    kind: OrganisationKind
    region: str


class MethodologyStats(BaseModel):
    code: str
    records: int
    reduction_g: int
    points: int


class PeriodStats(BaseModel):
    period: str = Field(description="A local day (2026-11-25) or a month (2026-11)")
    members: int = Field(description="Citizens who were members at some time in the period")
    records: int
    reduction_g: int
    points: int
    by_methodology: list[MethodologyStats]


class StatsTotals(BaseModel):
    records: int
    reduction_g: int
    points: int


class OrganisationStatsOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "organisation": {k: ORG_EXAMPLE[k] for k in ("id", "name", "kind", "region")},
                    "from": "2026-11-01",
                    "to": "2026-11-30",
                    "group_by": "month",
                    "member_count": 412,
                    "periods": [
                        {
                            "period": "2026-11",
                            "members": 415,
                            "records": 2,
                            "reduction_g": 1167,
                            "points": 1167,
                            "by_methodology": [
                                {
                                    "code": "purchase.labelled_product",
                                    "records": 1,
                                    "reduction_g": 700,
                                    "points": 700,
                                },
                                {
                                    "code": "transit.metro",
                                    "records": 1,
                                    "reduction_g": 467,
                                    "points": 467,
                                },
                            ],
                        }
                    ],
                    "totals": {"records": 2, "reduction_g": 1167, "points": 1167},
                }
            ]
        },
        populate_by_name=True,
    )

    organisation: OrganisationRef
    from_: date = Field(alias="from")
    to: date
    group_by: str
    member_count: int
    periods: list[PeriodStats]
    totals: StatsTotals


class OrganisationRankOut(BaseModel):
    rank: int
    organisation: OrganisationRef
    member_count: int
    reduction_g: int
    points: int


class OrganisationBoardOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "period": "month",
                    "from": "2026-11-01",
                    "to": "2026-11-25",
                    "kind": "community",
                    "region": "CN-SX",
                    "items": [
                        {
                            "rank": 1,
                            "organisation": {
                                k: ORG_EXAMPLE[k] for k in ("id", "name", "kind", "region")
                            },
                            "member_count": 412,
                            "reduction_g": 1288410,
                            "points": 1279022,
                        }
                    ],
                }
            ]
        },
    )

    period: str
    from_: str | None = Field(alias="from", description="First local day counted; null = all")
    to: str
    kind: OrganisationKind | None
    region: str | None
    items: list[OrganisationRankOut]
