from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from app.models.identity import Role

REGION_PATTERN = r"^[A-Z]{2}-[A-Z0-9]{1,3}$"


def clean_display_name(v: str | None) -> str | None:
    if v is None:
        return None
    v = re.sub(r"\s+", " ", v).strip()
    return v or None


class RegisterIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "email": "li.wei@example.cn",
                    "password": "Green-Commute-2026",
                    "display_name": "Li Wei",
                    "region": "CN-SX",
                }
            ]
        },
    )

    email: EmailStr
    password: str = Field(min_length=1, max_length=256)
    display_name: str | None = Field(default=None, max_length=100)
    region: str | None = Field(
        default=None, description="ISO 3166-2 code, e.g. CN-SX", pattern=REGION_PATTERN
    )

    @field_validator("display_name")
    @classmethod
    def _strip(cls, v: str | None) -> str | None:
        return clean_display_name(v)


class UserOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "3f0c6a0e-8a53-4c47-9a51-2b7b0b8f1c11",
                    "email": "li.wei@example.cn",
                    "role": "citizen",
                    "display_name": "Li Wei",
                    "region": "CN-SX",
                    "merchant_id": None,
                }
            ]
        },
    )

    id: str
    email: str
    role: Role
    display_name: str | None
    region: str | None
    merchant_id: str | None = None


class TokenOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJIUzI1NiIs…",
                    "token_type": "bearer",
                    "expires_in": 900,
                    "refresh_token": "eyJhbGciOiJIUzI1NiIs…",
                }
            ]
        }
    )

    access_token: str
    token_type: str = "bearer"
    expires_in: int
    refresh_token: str


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=4096)


class ProfilePatchIn(BaseModel):
    """Only the fields sent change; ``null`` clears one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"display_name": "Li Wei", "region": "CN-SX"}]},
    )

    display_name: str | None = Field(default=None, max_length=100)
    region: str | None = Field(
        default=None, description="ISO 3166-2 code, e.g. CN-SX", pattern=REGION_PATTERN
    )

    @field_validator("display_name")
    @classmethod
    def _strip(cls, v: str | None) -> str | None:
        return clean_display_name(v)


class PasswordChangeIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"current_password": "Green-Commute-2026", "new_password": "Quiet-Bicycle-Lane-7"}
            ]
        },
    )

    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class ErasureIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"password": "Green-Commute-2026"}]}
    )

    password: str = Field(min_length=1, max_length=256)


class ExportOut(BaseModel):
    """Everything held about the caller. Records, ledger lines and redemptions have the shapes
    of their own endpoints (records with their calculation)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "exported_at": "2026-11-25T09:00:00Z",
                    "profile": {
                        "id": "3f0c6a0e-8a53-4c47-9a51-2b7b0b8f1c11",
                        "email": "li.wei@example.cn",
                        "role": "citizen",
                        "display_name": "Li Wei",
                        "region": "CN-SX",
                        "created_at": "2026-11-01T08:00:00Z",
                    },
                    "links": [],
                    "records": [],
                    "ledger_lines": [],
                    "redemptions": [],
                }
            ]
        }
    )

    exported_at: datetime
    profile: dict[str, Any]
    links: list[dict[str, Any]]
    records: list[dict[str, Any]]
    ledger_lines: list[dict[str, Any]]
    redemptions: list[dict[str, Any]]
    organisations: list[dict[str, Any]] = Field(
        default_factory=list, description="Membership periods"
    )
    donations: list[dict[str, Any]] = Field(default_factory=list)
