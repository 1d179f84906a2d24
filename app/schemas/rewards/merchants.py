"""Merchants and their counter staff."""

from __future__ import annotations

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
from app.schemas.identity import DisplayName, UserOut
from app.schemas.rewards.examples import MERCHANT_ID, TIME


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
                    "id": MERCHANT_ID,
                    "name": "绿色生活便利店 Green Life Store",
                    "active": True,
                    "created_at": TIME,
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
