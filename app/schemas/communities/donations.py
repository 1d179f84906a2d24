"""Public-good projects and donations over HTTP."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.kit.pagination import Page
from app.kit.times import Instant

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
