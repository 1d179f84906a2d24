"""Household electricity saving: ER = max(0, baseline − actual) × grid emission factor.

The grid factor is regional: the national average by default, the North China grid's for
Beijing, Tianjin, Hebei, Shanxi, Shandong and Inner Mongolia.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from pydantic import ConfigDict, Field

from app.rules.base import (
    BaseParams,
    Context,
    Record,
    Result,
    dec,
    floor_grams,
    quantity,
    resolve,
)

NORTH_CHINA_GRID = ("CN-BJ", "CN-TJ", "CN-HE", "CN-SX", "CN-SD", "CN-NM")


class ElectricityInput(Record):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"baseline_kwh": 120, "actual_kwh": 98.5, "period_days": 30}]
        }
    )

    baseline_kwh: Decimal = quantity(
        3, ge=0, le=1_000_000, description="Expected use over the period, kWh"
    )
    actual_kwh: Decimal = quantity(
        3, ge=0, le=1_000_000, description="Metered use over the period, kWh"
    )
    period_days: int = Field(
        ge=1, le=31, description="Length of the metering period ending at occurred_at, days"
    )


def _north_china() -> dict[str, dict[str, Decimal]]:
    return {code: {"grid_ef_g_per_kwh": Decimal("636.1")} for code in NORTH_CHINA_GRID}


class ElectricityParams(BaseParams):
    grid_ef_g_per_kwh: Decimal = quantity(
        4,
        default=Decimal("530.6"),
        gt=0,
        le=100_000,
        description="Grid emission factor, g CO2 per kWh: national 2023 = 530.6; North China "
        "grid 2023 = 636.1 (生态环境部 / 国家统计局 电力二氧化碳排放因子)",
    )
    regions: dict[str, dict[str, Decimal]] = Field(default_factory=_north_china, max_length=100)
    max_baseline_kwh_per_day: Decimal = quantity(
        3, default=Decimal(100), gt=0, le=100_000, description="Largest plausible baseline per day"
    )
    self_reported_needs_review: bool = Field(
        default=True, description="Self-reported savings wait for an administrator"
    )


class ElectricitySaving:
    code = "energy.electricity_saving"
    name = "Household electricity saving"
    description = "Household electricity used below the same period's baseline, per kWh saved."
    unit = "g CO2e per kWh saved"
    Input = ElectricityInput
    Params = ElectricityParams

    def duration(self, data: ElectricityInput) -> timedelta | None:
        return None  # a metering period, not an activity that excludes others

    def evaluate(self, data: ElectricityInput, params: Any, ctx: Context) -> Result:
        p: ElectricityParams = resolve(params, ctx.region)
        reasons = []
        if data.baseline_kwh > p.max_baseline_kwh_per_day * data.period_days:
            reasons.append("implausible_amount")
        saved = max(Decimal(0), data.baseline_kwh - data.actual_kwh)
        exact = saved * p.grid_ef_g_per_kwh
        grams = floor_grams(exact)
        return Result(
            grams,
            reasons,
            p.self_reported_needs_review and not ctx.trusted,
            {
                "formula": "ER = max(0, baseline_kwh − actual_kwh) × grid_ef_g_per_kwh(region)",
                "baseline_kwh": dec(data.baseline_kwh),
                "actual_kwh": dec(data.actual_kwh),
                "period_days": data.period_days,
                "saved_kwh": dec(saved),
                "grid_ef_g_per_kwh": dec(p.grid_ef_g_per_kwh),
                "region": ctx.region,
                "factor_region": ctx.region if ctx.region in p.regions else "default",
                "max_baseline_kwh": dec(p.max_baseline_kwh_per_day * data.period_days),
                "exact_g": dec(exact),
                "reduction_g": grams,
                "rounding": "down to whole grams",
            },
        )
