"""Communities over HTTP: organisations and their statistics, labelled products and till
purchases, public-good projects and donations."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.kit.pagination import Page
from app.kit.times import Instant
from app.models.communities import OrganisationKind
from app.schemas.identity import REGION_PATTERN
from app.schemas.records import RecordOut

ORG_EXAMPLE: dict[str, Any] = {
    "id": "3f9a2c4e-1b6d-4e8f-a0c2-5d7e9f1b3a6c",
    "name": "Yingze Street Community",
    "kind": "community",
    "region": "CN-SX",
    "member_count": 412,
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
    created_at: Instant


class AdminOrganisationOut(OrganisationOut):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{**ORG_EXAMPLE, "join_code": "K7QM4TZP"}]}
    )

    join_code: str = Field(description="What citizens enter to join; share it with members")


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


PRODUCT_EXAMPLE: dict[str, Any] = {
    "name": "Low-carbon oat milk 1 L",
    "label_id": "CL-2026-0001",
    "certifier": "Example Certification Centre",
    "reduction_g_per_unit": "350",
    "source": "Carbon label CL-2026-0001: product carbon footprint against the conventional "
    "product, certified 2026-03",
    "valid_from": "2026-03-01T00:00:00+08:00",
    "valid_until": "2027-03-01T00:00:00+08:00",
}


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [PRODUCT_EXAMPLE]})

    name: str = Field(min_length=1, max_length=200)
    label_id: str = Field(min_length=1, max_length=100, description="The id printed on the label")
    certifier: str = Field(min_length=1, max_length=200)
    reduction_g_per_unit: Decimal = Field(
        gt=0,
        le=1_000_000,
        max_digits=11,
        decimal_places=4,
        description="The label's reduction against the conventional product, g CO2e per unit",
    )
    source: str = Field(min_length=1, max_length=500, description="Where the value is published")
    valid_from: Instant | None = None
    valid_until: Instant | None = None


class ProductOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"id": "5f0c6a1e-2b7d-4c1a-9a53-0d1f4b2e8c71", **PRODUCT_EXAMPLE, "in_force": True}
            ]
        }
    )

    id: str
    name: str
    label_id: str
    certifier: str
    reduction_g_per_unit: str = Field(description="g CO2e per unit, as a decimal string")
    source: str
    valid_from: Instant | None
    valid_until: Instant | None
    in_force: bool


class ProductsPage(Page[ProductOut]):
    pass


class MemberCodeOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"code": "4829105573920418", "expires_in": 120}]}
    )

    code: str = Field(description="16 digits, shown as a barcode or read out; usable once")
    expires_in: int = Field(description="Seconds the code stays valid")


class PurchaseItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: str = Field(min_length=1, max_length=36)
    quantity: int = Field(ge=1, le=1000)


class PurchaseIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "member_code": "4829105573920418",
                    "client_event_id": "till-07:20261125:000153",
                    "items": [
                        {"product_id": "5f0c6a1e-2b7d-4c1a-9a53-0d1f4b2e8c71", "quantity": 2}
                    ],
                }
            ]
        },
    )

    member_code: str = Field(min_length=1, max_length=40)
    client_event_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[\x21-\x7e]+$",
        description="Chosen by the till; the same id from the same merchant is the same purchase",
    )
    items: list[PurchaseItem] = Field(min_length=1, max_length=20)


class PurchaseOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0b7e…",
                    "client_event_id": "till-07:20261125:000153",
                    "created_at": "2026-11-25T01:00:00+00:00",
                    "reduction_g": 700,
                    "points": 700,
                    "records": [
                        {
                            "id": "6d3a…",
                            "client_event_id": "till:<merchant id>:till-07:20261125:000153:0",
                            "type": "purchase.labelled_product",
                            "status": "credited",
                            "reduction_g": 700,
                            "points": 700,
                            "reasons": [],
                            "reason_descriptions": [],
                            "methodology": {"code": "purchase.labelled_product", "version": 1},
                            "occurred_at": "2026-11-25T01:00:00+00:00",
                            "received_at": "2026-11-25T01:00:00+00:00",
                            "source": "merchant",
                            "reversed_at": None,
                        }
                    ],
                }
            ]
        }
    )

    id: str
    client_event_id: str
    created_at: Instant
    reduction_g: int
    points: int
    records: list[RecordOut] = Field(description="One record per product, credited to the citizen")


PROJECT_EXAMPLE: dict[str, Any] = {
    "name": "Plant a tree on the Lüliang hills",
    "description": "Each unit plants and tends one tree for three years.",
    "points_per_unit": 500,
    "unit_name": "tree",
    "target_units": 10000,
}


class ProjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [PROJECT_EXAMPLE]})

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=4000)
    points_per_unit: int = Field(ge=1, le=10_000_000)
    unit_name: str = Field(min_length=1, max_length=50)
    target_units: int = Field(ge=1, le=1_000_000_000)


class ProjectOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "9b1f…",
                    **PROJECT_EXAMPLE,
                    "donated_units": 2,
                    "donated_points": 1000,
                    "progress": 0.0002,
                    "active": True,
                    "created_at": "2026-11-25T01:00:00+00:00",
                }
            ]
        }
    )

    id: str
    name: str
    description: str
    unit_name: str
    points_per_unit: int
    target_units: int
    donated_units: int
    donated_points: int
    progress: float = Field(description="donated_units / target_units")
    active: bool
    created_at: Instant


class ProjectPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"active": False}]})

    active: bool = Field(description="false: the project takes no more donations")


class ProjectsPage(Page[ProjectOut]):
    pass


class DonationIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"project_id": "9b1f…", "units": 2}]}
    )

    project_id: str = Field(min_length=1, max_length=36)
    units: int = Field(ge=1, le=1_000_000)


class ProjectRef(BaseModel):
    id: str
    name: str
    unit_name: str


class DonationOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "c2d4…",
                    "certificate": "TH-20261125-K7QM4TZP",
                    "project": {
                        "id": "9b1f…",
                        "name": PROJECT_EXAMPLE["name"],
                        "unit_name": "tree",
                    },
                    "units": 2,
                    "points": 1000,
                    "created_at": "2026-11-25T01:00:00+00:00",
                }
            ]
        }
    )

    id: str
    certificate: str = Field(description="The donation's certificate number")
    project: ProjectRef
    units: int
    points: int
    created_at: Instant


class DonationsPage(Page[DonationOut]):
    pass
