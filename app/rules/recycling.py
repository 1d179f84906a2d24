"""Recycling: ER = weight × the material's recycling emission factor.

Version 1 takes one factor set for every material: the US EPA Waste Reduction Model (WARM)
version 15 (November 2020), net emission factors of recycling compared with landfilling, in
metric tons CO2e per short ton of material recycled (negative in WARM: emissions avoided;
stored here as positive reductions). The conversion to grams per kilogram is exact and shown
in the breakdown: 1 t CO2e per short ton = 1 000 000 g / 907.18474 kg ≈ 1 102.3113 g per kg.

Verification status, stated plainly: none of the six default factors has been read in EPA's
own WARM v15 documents. Of the Containers, Packaging, and Non-Durable Good Materials Chapters
(November 2020) only the title page, the table of contents and the opening of the Glass
chapter have been read, in a copy (https://www.scribd.com/document/647802953/); the chapter
numbers and first pages in ``CITATIONS`` come from that table of contents. No exhibit page has
been read, of that document or of the Electronics and Carpet chapters: the values are those
that independent secondary material attributes to WARM v15, and the textile value is not a
textile factor at all (WARM v15 has no textile material; Carpet is a stand-in). Every
breakdown says so (``factor_checked_against_source`` is false) until an administrator has
checked a factor in the primary document and published a version that says it was checked.
Administrators replace values through methodology versions; the code only fixes the formula
and the conversion.
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
_PACKAGING = (
    "US EPA, Documentation for Greenhouse Gas Emission and Energy Factors Used in WARM, "
    "Containers, Packaging, and Non-Durable Good Materials Chapters, November 2020"
)
_OTHER = "US EPA, WARM v15 documentation, November 2020, the chapter on "

# Where each default is published and which WARM material stands for ours.
# Chapter numbers and first pages are those of the packaging document's table of contents;
# the exhibits named are where secondary material places the values; no exhibit was read.
CITATIONS: dict[str, dict[str, Any]] = {
    "paper": {
        "warm_material": "Mixed Paper (general)",
        "document": _PACKAGING + ", chapter 3 (Paper Products, from p. 3-1), Exhibit 3-7",
    },
    "plastic": {
        "warm_material": "Mixed Plastics",
        "document": _PACKAGING + ", chapter 5 (Plastics, from p. 5-1), Exhibit 5-3",
    },
    "metal": {
        "warm_material": "Mixed Metals",
        "document": _PACKAGING + ", chapter 2 (Metals, from p. 2-1); exhibit not located",
    },
    "glass": {
        "warm_material": "Glass",
        "document": _PACKAGING + ", chapter 1 (Glass, from p. 1-1); exhibit not located",
    },
    "textile": {
        "warm_material": "Carpet (a stand-in: WARM v15 has no textile or clothing material)",
        "document": _OTHER + "Carpet; exhibit not located",
    },
    "e_waste": {
        "warm_material": "Mixed Electronics",
        "document": _OTHER + "Electronics; exhibit not located",
    },
}


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
    # Defaults not yet checked in the primary documents (see CITATIONS).
    factor_paper: Decimal = _factor("3.55", "Mixed Paper (general); not yet checked")
    factor_plastic: Decimal = _factor("0.93", "Mixed Plastics; not yet checked")
    factor_metal: Decimal = _factor("4.39", "Mixed Metals; not yet checked")
    factor_glass: Decimal = _factor("0.28", "Glass; not yet checked")
    factor_textile: Decimal = _factor(
        "2.38", "Carpet, a stand-in (WARM v15 has no textile); not yet checked"
    )
    factor_e_waste: Decimal = _factor("0.79", "Mixed Electronics; not yet checked")
    max_kg_paper: Decimal = _bound(100, "paper")
    max_kg_plastic: Decimal = _bound(50, "plastic")
    max_kg_metal: Decimal = _bound(50, "metal")
    max_kg_glass: Decimal = _bound(100, "glass")
    max_kg_textile: Decimal = _bound(50, "textile")
    max_kg_e_waste: Decimal = _bound(100, "e-waste")
    factors_checked: bool = Field(
        default=False,
        description="True only when an administrator has read every factor of this version "
        "in the source document named in `source`",
    )
    source: str = Field(
        default="US EPA, Waste Reduction Model (WARM) version 15, November 2020: recycling "
        "net emission factors (MTCO2E per short ton); defaults not yet checked against the "
        "WARM v15 documentation; textile uses Carpet as a stand-in",
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
                "source_material": CITATIONS[data.material]["warm_material"],
                "source_document": CITATIONS[data.material]["document"],
                "factor_checked_against_source": p.factors_checked,
                "exact_g": dec(exact.quantize(Decimal("0.0001"))),
                "reduction_g": grams,
                "rounding": "down to whole grams",
            },
        )
