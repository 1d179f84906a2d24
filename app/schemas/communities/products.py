"""Carbon-labelled products, member codes and till purchases over HTTP."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.kit.pagination import Page
from app.kit.times import Instant
from app.schemas.communities.patches import require_changes
from app.schemas.records import RecordOut

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
                {
                    "id": "5f0c6a1e-2b7d-4c1a-9a53-0d1f4b2e8c71",
                    **PRODUCT_EXAMPLE,
                    "in_force": True,
                    "active": True,
                    "retired_at": None,
                }
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
    in_force: bool = Field(description="Valid now and not retired")
    active: bool = Field(description="false: retired, cannot be bought")
    retired_at: Instant | None = Field(description="When it was retired; null while active")


class ProductPatch(BaseModel):
    """Only the fields sent change; at least one must be sent. Label fields can change only
    while no record names the product (409 ``product_in_use`` afterwards: add the corrected
    label as a new product and retire this one)."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset({"valid_from", "valid_until"})

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"active": False}, {"name": "Low-carbon oat milk 1 L (new pack)"}]
        },
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    label_id: str | None = Field(default=None, min_length=1, max_length=100)
    certifier: str | None = Field(default=None, min_length=1, max_length=200)
    reduction_g_per_unit: Decimal | None = Field(
        default=None, gt=0, le=1_000_000, max_digits=11, decimal_places=4
    )
    source: str | None = Field(default=None, min_length=1, max_length=500)
    valid_from: Instant | None = Field(default=None, description="null: valid from the start")
    valid_until: Instant | None = Field(default=None, description="null: no end")
    active: bool | None = Field(
        default=None,
        description="false retires the product: it cannot be bought from now on; records "
        "that occurred before keep their value. true reinstates it.",
    )

    @model_validator(mode="after")
    def _something_and_no_nulls(self) -> ProductPatch:
        require_changes(self)
        return self


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
