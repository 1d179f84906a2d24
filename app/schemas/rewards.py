"""Merchants, their incentives and redemption codes."""

from __future__ import annotations

from typing import Any, Self

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    model_validator,
)

from app.kit.bodies import refuse_nulls
from app.kit.pagination import Page
from app.kit.times import Instant
from app.models.rewards import RedemptionStatus
from app.schemas.identity import DisplayName, UserOut

_TIME = "2026-11-23T08:30:00+00:00"
_INCENTIVE_ID = "9b2d7c1e-4f0a-4d3b-8e61-0c5f2a7d9e14"
_MERCHANT_ID = "5e8a3f20-1c7b-4a92-b0d4-6f1e2c3a4b5d"


class MerchantIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "绿色生活便利店 Green Life Store"}]},
    )

    name: str = Field(min_length=1, max_length=200)


class MerchantOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": _MERCHANT_ID,
                    "name": "绿色生活便利店 Green Life Store",
                    "active": True,
                    "created_at": _TIME,
                }
            ]
        },
    )

    id: str
    name: str
    active: StrictBool = Field(
        validation_alias=AliasChoices("is_active", "active"),
        description="false: its incentives are not offered and its staff cannot verify codes",
    )
    created_at: Instant


class MerchantsPage(Page[MerchantOut]):
    """Newest first."""


class MerchantPatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"active": False}, {"name": "Green Life Plus"}]},
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    active: StrictBool | None = None

    @model_validator(mode="after")
    def _not_null(self) -> MerchantPatch:
        refuse_nulls(self, "name", "active")
        return self


class StaffIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "email": "till-1@greenlife.example.cn",
                    "password": "Counter-Staff-2026",
                    "display_name": "Till 1",
                }
            ]
        },
    )

    email: EmailStr
    password: str = Field(min_length=1, max_length=256)
    display_name: DisplayName = None


StaffOut = UserOut


INCENTIVE_EXAMPLE: dict[str, Any] = {
    "title": "Metro ride voucher",
    "description": "One single journey on Taiyuan Metro Line 2.",
    "points_cost": 500,
    "stock": 100,
    "per_user_limit": 2,
    "valid_from": "2026-12-01T00:00:00+08:00",
    "valid_until": "2027-03-01T00:00:00+08:00",
    "code_ttl_days": 30,
}


class MerchantIncentiveIn(BaseModel):
    """A new incentive of the merchant named by the path."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [INCENTIVE_EXAMPLE]})

    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    points_cost: int = Field(gt=0, le=100_000_000)
    stock: int | None = Field(default=None, ge=0, le=100_000_000, description="null = unlimited")
    per_user_limit: int | None = Field(default=None, ge=1, le=100_000)
    valid_from: Instant | None = None
    valid_until: Instant | None = None
    code_ttl_days: int = Field(default=30, ge=1, le=365, description="Lifetime of issued codes")

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self


class IncentiveIn(MerchantIncentiveIn):
    merchant_id: str | None = Field(
        default=None, max_length=36, description="Required when an admin publishes"
    )


class IncentivePatch(BaseModel):
    """Only the fields present change; ``null`` clears stock (unlimited) or a window end."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"stock": 20, "paused": False}, {"paused": True}]},
    )

    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    stock: int | None = Field(default=None, ge=0, le=100_000_000)
    per_user_limit: int | None = Field(default=None, ge=1, le=100_000)
    valid_from: Instant | None = None
    valid_until: Instant | None = None
    paused: StrictBool | None = None

    @model_validator(mode="after")
    def _not_null(self) -> IncentivePatch:
        refuse_nulls(self, "title", "paused")
        return self


class IncentiveOut(BaseModel):
    """The merchant's view of one of its incentives."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": _INCENTIVE_ID,
                    "merchant_id": _MERCHANT_ID,
                    "title": "Metro ride voucher",
                    "description": "One single journey on Taiyuan Metro Line 2.",
                    "points_cost": 500,
                    "stock": 97,
                    "issued": 3,
                    "per_user_limit": 2,
                    "valid_from": None,
                    "valid_until": "2027-03-01T00:00:00+00:00",
                    "code_ttl_days": 30,
                    "paused": False,
                    "active": True,
                    "created_at": _TIME,
                    "updated_at": None,
                }
            ]
        },
    )

    id: str
    merchant_id: str
    title: str
    description: str | None
    points_cost: int
    stock: int | None = Field(description="Units left; null = unlimited")
    issued: int = Field(description="Units taken by codes now issued or fulfilled")
    per_user_limit: int | None
    valid_from: Instant | None
    valid_until: Instant | None
    code_ttl_days: int
    paused: bool
    active: bool = Field(description="Redeemable now: not paused, in its window, in stock")
    created_at: Instant
    updated_at: Instant | None


class IncentivesPage(Page[IncentiveOut]):
    """Newest first."""


class PublicIncentiveOut(BaseModel):
    """An incentive as citizens see it in the catalogue."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _INCENTIVE_ID,
                    "merchant_id": _MERCHANT_ID,
                    "merchant_name": "绿色生活便利店 Green Life Store",
                    "title": "Metro ride voucher",
                    "description": "One single journey on Taiyuan Metro Line 2.",
                    "points_cost": 500,
                    "stock": 97,
                    "per_user_limit": 2,
                    "valid_from": None,
                    "valid_until": "2027-03-01T00:00:00+00:00",
                    "code_ttl_days": 30,
                }
            ]
        }
    )

    id: str
    merchant_id: str
    merchant_name: str
    title: str
    description: str | None
    points_cost: int
    stock: int | None = Field(description="Units left; null = unlimited")
    per_user_limit: int | None
    valid_from: Instant | None
    valid_until: Instant | None
    code_ttl_days: int


class PublicIncentivesPage(Page[PublicIncentiveOut]):
    """Newest first."""


class RedemptionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"incentive_id": _INCENTIVE_ID}]}
    )

    incentive_id: str = Field(min_length=1, max_length=36)


class RedemptionOut(BaseModel):
    """A citizen's redemption. ``code`` is shown while it can still be used."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0f6b2a9c-3d4e-4f51-9a2b-7c8d9e0f1a2b",
                    "code": "7KQM-X3PT-9WHD",
                    "code_hint": "HD",
                    "status": "issued",
                    "points": 500,
                    "incentive_id": _INCENTIVE_ID,
                    "incentive_title": "Metro ride voucher",
                    "merchant_id": _MERCHANT_ID,
                    "merchant_name": "绿色生活便利店 Green Life Store",
                    "expires_at": "2026-12-23T08:30:00+00:00",
                    "created_at": _TIME,
                    "resolved_at": None,
                }
            ]
        }
    )

    id: str
    code: str | None = Field(description="XXXX-XXXX-XXXX; null once fulfilled, cancelled, expired")
    code_hint: str = Field(description="Last two characters of the code")
    status: RedemptionStatus
    points: int
    incentive_id: str
    incentive_title: str
    merchant_id: str
    merchant_name: str
    expires_at: Instant
    created_at: Instant
    resolved_at: Instant | None


class RedemptionsPage(Page[RedemptionOut]):
    """Newest first."""


class VerifyIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"code": "7KQM-X3PT-9WHD"}]}
    )

    code: str = Field(
        min_length=1,
        max_length=64,
        description="As read at the counter; case, spaces and dashes do not matter",
    )


class MerchantRedemptionOut(BaseModel):
    """A redemption as the merchant sees it: never the code itself."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0f6b2a9c-3d4e-4f51-9a2b-7c8d9e0f1a2b",
                    "code_hint": "HD",
                    "status": "fulfilled",
                    "points": 500,
                    "incentive_id": _INCENTIVE_ID,
                    "incentive_title": "Metro ride voucher",
                    "expires_at": "2026-12-23T08:30:00+00:00",
                    "created_at": _TIME,
                    "resolved_at": "2026-11-24T10:02:11+00:00",
                    "resolved_by": "c3d4e5f6-0a1b-4c2d-8e3f-4a5b6c7d8e9f",
                }
            ]
        }
    )

    id: str
    code_hint: str
    status: RedemptionStatus
    points: int
    incentive_id: str
    incentive_title: str
    expires_at: Instant
    created_at: Instant
    resolved_at: Instant | None
    resolved_by: str | None = Field(description="Staff member who verified it (or the citizen)")


class MerchantRedemptionLookupOut(MerchantRedemptionOut):
    """The till's check before settling: the redemption and what it is for."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0f6b2a9c-3d4e-4f51-9a2b-7c8d9e0f1a2b",
                    "code_hint": "HD",
                    "status": "issued",
                    "usable": True,
                    "points": 500,
                    "incentive_id": _INCENTIVE_ID,
                    "incentive_title": "Metro ride voucher",
                    "expires_at": "2026-12-23T08:30:00+00:00",
                    "created_at": _TIME,
                    "resolved_at": None,
                    "resolved_by": None,
                    "incentive": {
                        "id": _INCENTIVE_ID,
                        "merchant_id": _MERCHANT_ID,
                        "title": "Metro ride voucher",
                        "description": None,
                        "points_cost": 500,
                        "stock": 9,
                        "issued": 1,
                        "per_user_limit": 2,
                        "valid_from": None,
                        "valid_until": None,
                        "code_ttl_days": 30,
                        "paused": False,
                        "active": True,
                        "created_at": _TIME,
                        "updated_at": None,
                    },
                }
            ]
        }
    )

    usable: bool = Field(description="Verifying it now would settle it: issued and not expired")
    incentive: IncentiveOut


class RedemptionTotals(BaseModel):
    issued: int = 0
    fulfilled: int = 0
    cancelled: int = 0
    expired: int = 0
    points_settled: int = Field(0, description="Points of fulfilled codes, paid to the merchant")


class MerchantRedemptionsPage(Page[MerchantRedemptionOut]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [],
                    "next_cursor": None,
                    "totals": {
                        "issued": 4,
                        "fulfilled": 12,
                        "cancelled": 1,
                        "expired": 2,
                        "points_settled": 6000,
                    },
                }
            ]
        }
    )

    totals: RedemptionTotals = Field(description="Over all of the merchant's redemptions")
