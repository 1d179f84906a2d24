"""Redemption codes: a citizen's, and the merchant's view at the till (never the code itself)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from app.kit.pagination import Page
from app.kit.times import Instant
from app.models.rewards import RedemptionStatus
from app.schemas.rewards.examples import INCENTIVE_ID, MERCHANT_ID, TIME
from app.schemas.rewards.incentives import IncentiveOut


class RedemptionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"incentive_id": INCENTIVE_ID}]}
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
                    "incentive_id": INCENTIVE_ID,
                    "incentive_title": "Metro ride voucher",
                    "merchant_id": MERCHANT_ID,
                    "merchant_name": "绿色生活便利店 Green Life Store",
                    "expires_at": "2026-12-23T08:30:00+00:00",
                    "created_at": TIME,
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
                    "incentive_id": INCENTIVE_ID,
                    "incentive_title": "Metro ride voucher",
                    "expires_at": "2026-12-23T08:30:00+00:00",
                    "created_at": TIME,
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
                    "incentive_id": INCENTIVE_ID,
                    "incentive_title": "Metro ride voucher",
                    "expires_at": "2026-12-23T08:30:00+00:00",
                    "created_at": TIME,
                    "resolved_at": None,
                    "resolved_by": None,
                    "incentive": {
                        "id": INCENTIVE_ID,
                        "merchant_id": MERCHANT_ID,
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
                        "created_at": TIME,
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
