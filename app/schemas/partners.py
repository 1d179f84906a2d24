from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


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


class PartnerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    key_id: str
    allowed_types: list[str]
    is_active: bool
    created_at: datetime


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
    id: str
    partner_key: str
    partner_name: str
    external_ref: str
    created_at: datetime


class LinkList(BaseModel):
    items: list[LinkOut]
