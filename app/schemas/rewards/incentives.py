"""Incentives: what merchants offer for points, as the merchant manages them and as citizens
see them in the catalogue."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from app.kit.bodies import refuse_nulls
from app.kit.pagination import Page
from app.kit.times import Instant
from app.schemas.rewards.examples import INCENTIVE_ID, MERCHANT_ID, TIME

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
                    "id": INCENTIVE_ID,
                    "merchant_id": MERCHANT_ID,
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
                    "created_at": TIME,
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
                    "id": INCENTIVE_ID,
                    "merchant_id": MERCHANT_ID,
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
