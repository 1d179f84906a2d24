"""Walking: ER = steps × grams per step."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from pydantic import ConfigDict, Field

from app.rules.base import (
    MIN_DURATION_MIN,
    BaseParams,
    Context,
    Record,
    Result,
    dec,
    floor_grams,
    quantity,
    resolve,
)


class WalkingInput(Record):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"steps": 7250}, {"steps": 4200, "duration_min": 40}]}
    )

    steps: int = Field(ge=1, le=1_000_000, description="Steps counted")
    duration_min: Decimal | None = quantity(
        2,
        default=None,
        ge=MIN_DURATION_MIN,
        le=1440,
        description="Walking time, minutes (optional)",
    )


class WalkingParams(BaseParams):
    reduction_g_per_step: Decimal = quantity(
        4,
        default=Decimal("0.02"),
        gt=0,
        le=100,
        description="Reduction per step, g CO2e (Wuhan 碳碳星球, 湖北日报 2022-02-17)",
    )
    daily_cap_points: int | None = Field(
        default=296,
        ge=0,
        le=1_000_000,
        description="Most points per user and local day (Ant Forest 蚂蚁森林 user rules)",
    )
    max_steps_per_record: int = Field(
        default=50_000, ge=1, le=1_000_000, description="Most steps one record may claim"
    )
    max_cadence_spm: Decimal = quantity(
        2,
        default=Decimal(200),
        gt=0,
        le=1000,
        description="Fastest plausible cadence, steps per minute",
    )


class Walking:
    code = "walking"
    name = "Walking"
    description = "Steps walked instead of short trips by car, counted per step."
    unit = "g CO2e per step"
    Input = WalkingInput
    Params = WalkingParams

    def duration(self, data: WalkingInput) -> timedelta | None:
        return timedelta(minutes=float(data.duration_min)) if data.duration_min else None

    def evaluate(self, data: WalkingInput, params: Any, ctx: Context) -> Result:
        p: WalkingParams = resolve(params, ctx.region)
        reasons = []
        if data.steps > p.max_steps_per_record:
            reasons.append("implausible_amount")
        cadence = None
        if data.duration_min is not None:
            cadence = Decimal(data.steps) / data.duration_min
            if cadence > p.max_cadence_spm:
                reasons.append("implausible_speed")
        exact = Decimal(data.steps) * p.reduction_g_per_step
        grams = floor_grams(exact)
        return Result(
            grams,
            reasons,
            False,
            {
                "formula": "ER = steps × reduction_g_per_step",
                "steps": data.steps,
                "duration_min": dec(data.duration_min) if data.duration_min else None,
                "cadence_spm": dec(cadence.quantize(Decimal("0.01"))) if cadence else None,
                "max_steps_per_record": p.max_steps_per_record,
                "max_cadence_spm": dec(p.max_cadence_spm),
                "reduction_g_per_step": dec(p.reduction_g_per_step),
                "region": ctx.region,
                "exact_g": dec(exact),
                "reduction_g": grams,
                "rounding": "down to whole grams",
            },
        )
