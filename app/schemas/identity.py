from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, field_serializer

from app.kit.times import Instant, instants_as_text
from app.models.identity import Role

REGION_PATTERN = r"^[A-Z]{2}-[A-Z0-9]{1,3}$"


def clean_display_name(v: str | None) -> str | None:
    if v is None:
        return None
    v = re.sub(r"\s+", " ", v).strip()
    return v or None


# A name shown to others, whitespace collapsed (blank is none), and a region, as accounts take them.
DisplayName = Annotated[str | None, Field(max_length=100), AfterValidator(clean_display_name)]
Region = Annotated[
    str | None, Field(description="ISO 3166-2 code, e.g. CN-SX", pattern=REGION_PATTERN)
]


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
    display_name: DisplayName = None
    region: Region = None


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

    display_name: DisplayName = None
    region: Region = None


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

    exported_at: Instant
    profile: dict[str, Any]
    links: list[dict[str, Any]]
    records: list[dict[str, Any]]
    ledger_lines: list[dict[str, Any]]
    redemptions: list[dict[str, Any]]

    @field_serializer("profile", when_used="json")
    def _profile_instants(self, value: dict[str, Any]) -> dict[str, Any]:
        return instants_as_text(value)  # type: ignore[no-any-return]

    @field_serializer("links", "records", "ledger_lines", "redemptions", when_used="json")
    def _rows_instants(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return instants_as_text(value)  # type: ignore[no-any-return]

    organisations: list[dict[str, Any]] = Field(
        default_factory=list, description="Membership periods"
    )
    donations: list[dict[str, Any]] = Field(default_factory=list)
