"""Recycling: ER = weight × the material's recycling emission factor.

Version 1 takes one published factor set for every material: the US EPA Waste Reduction
Model (WARM) version 15 (November 2020), net emission factors of recycling, in metric tons
CO2e per short ton of material recycled (negative in WARM: emissions avoided; stored here as
positive reductions). The conversion to grams per kilogram is exact and shown in the
breakdown: 1 t CO2e per short ton = 1 000 000 g / 907.18474 kg ≈ 1 102.3113 g per kg.
Which WARM material stands for each of our materials is in the parameter descriptions and in
the methodology documentation.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import ConfigDict, Field

from app.rules.base import BaseParams, Context, Record, Result, dec, floor_grams, quantity, resolve

CODE = "recycling"
MATERIALS = ("paper", "plastic", "metal", "glass", "textile", "e_waste")
Material = Literal["paper", "plastic", "metal", "glass", "textile", "e_waste"]
GRAMS_PER_TONNE = Decimal(1_000_000)
KG_PER_SHORT_TON = Decimal("907.18474")  # exactly 2000 lb of 0.45359237 kg
_WARM = "US EPA WARM v15 (2020), recycling net emission factor, t CO2e per short ton: "


class RecyclingInput(Record):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"material": "paper", "weight_kg": 10},
                {"material": "glass", "weight_kg": 5},
            ]
        }
    )

    material: Material = Field(description="paper, plastic, metal, glass, textile or e_waste")
    weight_kg: Decimal = quantity(3, gt=0, le=100_000, description="Weight handed in, kg")


def _factor(default: str, what: str) -> Any:
    return quantity(4, default=Decimal(default), ge=0, le=100, description=_WARM + what)


def _bound(default: int, what: str) -> Any:
    return quantity(
        3,
        default=Decimal(default),
        gt=0,
        le=100_000,
        description=f"Largest plausible weight of {what} in one record, kg (a platform bound)",
    )


class RecyclingParams(BaseParams):
    daily_cap_points: int | None = Field(
        default=20_000,
        ge=0,
        le=1_000_000,
        description="Most points per user and local day from recycling (a platform choice)",
    )
    factor_paper: Decimal = _factor("3.55", "Mixed Paper (general)")
    factor_plastic: Decimal = _factor("0.93", "Mixed Plastics")
    factor_metal: Decimal = _factor("4.39", "Mixed Metals")
    factor_glass: Decimal = _factor("0.28", "Glass")
    factor_textile: Decimal = _factor("2.38", "Carpet (the nearest WARM textile; a proxy)")
    factor_e_waste: Decimal = _factor("0.79", "Mixed Electronics")
    max_kg_paper: Decimal = _bound(100, "paper")
    max_kg_plastic: Decimal = _bound(50, "plastic")
    max_kg_metal: Decimal = _bound(50, "metal")
    max_kg_glass: Decimal = _bound(100, "glass")
    max_kg_textile: Decimal = _bound(50, "textile")
    max_kg_e_waste: Decimal = _bound(100, "e-waste")
    source: str = Field(
        default="US EPA, Waste Reduction Model (WARM) version 15, November 2020: recycling "
        "emission factors (MTCO2E per short ton)",
        max_length=300,
        description="Where the factors come from",
    )
    self_reported_needs_review: bool = Field(
        default=True,
        description="Weights the citizen reports themselves wait for an administrator; a "
        "recycling machine or collection point registered as a partner is credited directly",
    )


class Recycling:
    code = CODE
    name = "Recycling"
    description = (
        "Materials handed in for recycling instead of landfill, counted per kg by material."
    )
    unit = "g CO2e per kg of material recycled"
    Input = RecyclingInput
    Params = RecyclingParams

    def duration(self, data: RecyclingInput) -> timedelta | None:
        return None

    def evaluate(self, data: RecyclingInput, params: Any, ctx: Context) -> Result:
        p: RecyclingParams = resolve(params, ctx.region)
        factor: Decimal = getattr(p, f"factor_{data.material}")
        most: Decimal = getattr(p, f"max_kg_{data.material}")
        reasons = []
        if data.weight_kg > most:
            reasons.append("implausible_amount")
        exact = data.weight_kg * factor * GRAMS_PER_TONNE / KG_PER_SHORT_TON
        grams = floor_grams(exact)
        return Result(
            grams,
            reasons,
            p.self_reported_needs_review and not ctx.trusted,
            {
                "formula": "ER = weight_kg × factor (t CO2e per short ton) × 1 000 000 g/t "
                "÷ 907.18474 kg per short ton",
                "material": data.material,
                "weight_kg": dec(data.weight_kg),
                "factor_t_co2e_per_short_ton": dec(factor),
                "g_per_kg": dec(
                    (factor * GRAMS_PER_TONNE / KG_PER_SHORT_TON).quantize(Decimal("0.0001"))
                ),
                "kg_per_short_ton": dec(KG_PER_SHORT_TON),
                "max_kg": dec(most),
                "source": p.source,
                "exact_g": dec(exact.quantize(Decimal("0.0001"))),
                "reduction_g": grams,
                "rounding": "down to whole grams",
            },
        )
