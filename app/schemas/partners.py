from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from app.kit.bodies import refuse_nulls
from app.kit.times import Instant
from app.models.partners import LinkConfirmation, LinkStatus


class PartnerIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "Taiyuan Metro", "allowed_types": ["transit.metro"]}]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    allowed_types: list[str] = Field(
        min_length=1, max_length=50, description="Methodology codes it may submit (trusted)"
    )
    link_confirmation: LinkConfirmation = Field(
        default=LinkConfirmation.PARTNER,
        description='"partner": a citizen\'s link is pending until the partner confirms its '
        'one-time code; "none": links are active at once (only for references nobody can guess)',
    )
    refs_case_sensitive: StrictBool = Field(
        default=True,
        description="Whether the partner's references differ by case; if not, they are "
        "stored and looked up in lower case. Fixed at registration.",
    )


class PartnerPatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"active": False}, {"link_confirmation": "partner"}]},
    )

    active: StrictBool | None = Field(
        default=None, description="false: its signed requests get 403"
    )
    allowed_types: list[str] | None = Field(default=None, min_length=1, max_length=50)
    link_confirmation: LinkConfirmation | None = None

    @model_validator(mode="after")
    def _not_null(self) -> PartnerPatch:
        refuse_nulls(self, "active", "allowed_types", "link_confirmation")
        return self


class PartnerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    key_id: str
    allowed_types: list[str]
    is_active: bool
    link_confirmation: LinkConfirmation
    refs_case_sensitive: bool
    secret_rotated_at: Instant | None
    created_at: Instant


class PartnerCreatedOut(PartnerOut):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5c9d…",
                    "name": "Taiyuan Metro",
                    "key_id": "pk_3f1a9c0e5b7d2a4c6e8f",
                    "secret": "b1946ac92492d2347c6235b4d2611184…",
                    "allowed_types": ["transit.metro"],
                    "is_active": True,
                    "link_confirmation": "partner",
                    "refs_case_sensitive": True,
                    "secret_rotated_at": None,
                    "created_at": "2026-11-24T02:00:00+00:00",
                }
            ]
        }
    )

    secret: str = Field(description="Shown once; sign requests with it (HMAC-SHA256)")


class PartnerList(BaseModel):
    items: list[PartnerOut]


class LinkIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"partner_key": "pk_3f1a9c0e5b7d2a4c6e8f", "external_ref": "card-3108-5521"}
            ]
        },
    )

    partner_key: str = Field(min_length=1, max_length=64)
    external_ref: str = Field(min_length=1, max_length=200)


class LinkOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0b6f…",
                    "partner_key": "pk_3f1a9c0e5b7d2a4c6e8f",
                    "partner_name": "Taiyuan Metro",
                    "external_ref": "card-3108-5521",
                    "status": "pending",
                    "confirmation_code": "K7QM4XPB",
                    "confirmation_expires_at": "2026-11-24T02:10:00+00:00",
                    "created_at": "2026-11-24T02:00:00+00:00",
                }
            ]
        }
    )

    id: str
    partner_key: str
    partner_name: str
    external_ref: str = Field(description="As stored: trimmed, lower case if the partner says so")
    status: LinkStatus
    confirmation_code: str | None = Field(
        default=None,
        description="Shown once, when the link is made: the citizen gives it to the partner, "
        "which confirms the link within 10 minutes",
    )
    confirmation_expires_at: Instant | None = None
    created_at: Instant


class LinkList(BaseModel):
    items: list[LinkOut]


class LinkConfirmIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"external_ref": "card-3108-5521", "confirmation_code": "K7QM4XPB"}]
        },
    )

    external_ref: str = Field(min_length=1, max_length=200)
    confirmation_code: str = Field(min_length=1, max_length=32)
