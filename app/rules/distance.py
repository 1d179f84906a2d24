"""Distance-based trips: metro, bus and cycling.

ER = distance_km × (baseline − project) grams per passenger-km. The published peer schemes
give only the net factor, so it is one parameter (methodologies.md).
"""

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


class TripInput(Record):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"distance_km": 12.4, "duration_min": 31}]}
    )

    distance_km: Decimal = quantity(3, gt=0, le=10_000, description="Distance travelled, km")
    duration_min: Decimal = quantity(
        2, ge=MIN_DURATION_MIN, le=1440, description="Duration of the trip, minutes"
    )


class TripParams(BaseParams):
    """Factor and plausibility bounds shared by the trip methodologies."""

    min_speed_kmh: Decimal = quantity(
        2, ge=0, le=500, description="Slowest plausible average, km/h"
    )
    max_speed_kmh: Decimal = quantity(
        2, gt=0, le=500, description="Fastest plausible average, km/h"
    )
    max_distance_km: Decimal = quantity(
        3, gt=0, le=10_000, description="Longest plausible trip, km"
    )


class _Trip:
    code: str
    name: str
    unit: str
    factor_name: str
    Input = TripInput
    Params: type[TripParams]

    def duration(self, data: TripInput) -> timedelta | None:
        return timedelta(minutes=float(data.duration_min))

    def evaluate(self, data: TripInput, params: Any, ctx: Context) -> Result:
        p = resolve(params, ctx.region)
        factor: Decimal = getattr(p, self.factor_name)
        speed = data.distance_km / (data.duration_min / Decimal(60))
        reasons = []
        if speed < p.min_speed_kmh or speed > p.max_speed_kmh:
            reasons.append("implausible_speed")
        if data.distance_km > p.max_distance_km:
            reasons.append("implausible_amount")
        exact = data.distance_km * factor
        grams = floor_grams(exact)
        return Result(
            grams,
            reasons,
            False,
            {
                "formula": f"ER = distance_km × {self.factor_name}",
                "distance_km": dec(data.distance_km),
                "duration_min": dec(data.duration_min),
                "average_speed_kmh": dec(speed.quantize(Decimal("0.01"))),
                "speed_bounds_kmh": [dec(p.min_speed_kmh), dec(p.max_speed_kmh)],
                "max_distance_km": dec(p.max_distance_km),
                self.factor_name: dec(factor),
                "region": ctx.region,
                "exact_g": dec(exact),
                "reduction_g": grams,
                "rounding": "down to whole grams",
            },
        )


class MetroParams(TripParams):
    reduction_g_per_pkm: Decimal = quantity(
        4,
        default=Decimal("46.7"),
        gt=0,
        le=100_000,
        description="Net reduction per passenger-km vs. the baseline mode, g CO2e "
        "(《深圳市低碳公共出行碳普惠方法学(试行)》, 深圳商报 2022-09-23)",
    )
    daily_cap_points: int | None = Field(default=2000, ge=0, le=1_000_000)
    min_speed_kmh: Decimal = quantity(2, default=Decimal(5), ge=0, le=500)
    max_speed_kmh: Decimal = quantity(2, default=Decimal(80), gt=0, le=500)
    max_distance_km: Decimal = quantity(3, default=Decimal(100), gt=0, le=10_000)


class BusParams(TripParams):
    reduction_g_per_pkm: Decimal = quantity(
        4,
        default=Decimal("26.9"),
        gt=0,
        le=100_000,
        description="Net reduction per passenger-km (electric bus), g CO2e "
        "(《深圳市低碳公共出行碳普惠方法学(试行)》, 深圳商报 2022-09-23)",
    )
    daily_cap_points: int | None = Field(default=1500, ge=0, le=1_000_000)
    min_speed_kmh: Decimal = quantity(2, default=Decimal(3), ge=0, le=500)
    max_speed_kmh: Decimal = quantity(2, default=Decimal(60), gt=0, le=500)
    max_distance_km: Decimal = quantity(3, default=Decimal(80), gt=0, le=10_000)


class CyclingParams(TripParams):
    reduction_g_per_km: Decimal = quantity(
        4,
        default=Decimal(40),
        gt=0,
        le=100_000,
        description="Reduction per km cycled, project emissions 0, g CO2e "
        "(Wuhan 武碳江湖, 长江日报 2023-06-05; 人民日报 2024-08-06)",
    )
    daily_cap_points: int | None = Field(default=1200, ge=0, le=1_000_000)
    min_speed_kmh: Decimal = quantity(2, default=Decimal(0), ge=0, le=500)
    max_speed_kmh: Decimal = quantity(
        2,
        default=Decimal(25),
        gt=0,
        le=500,
        description="Fastest plausible average, km/h (e-bike limit, GB 17761-2018)",
    )
    max_distance_km: Decimal = quantity(3, default=Decimal(60), gt=0, le=10_000)


class Metro(_Trip):
    code = "transit.metro"
    name = "Metro ride"
    description = "A trip by metro instead of by car, counted per passenger-km."
    unit = "g CO2e per passenger-km"
    factor_name = "reduction_g_per_pkm"
    Params = MetroParams


class Bus(_Trip):
    code = "transit.bus"
    name = "Bus ride"
    description = "A trip by bus instead of by car, counted per passenger-km."
    unit = "g CO2e per passenger-km"
    factor_name = "reduction_g_per_pkm"
    Params = BusParams


class Cycling(_Trip):
    code = "cycling"
    name = "Cycling (own or shared bicycle)"
    description = "A trip by bicycle instead of by car, counted per km."
    unit = "g CO2e per km"
    factor_name = "reduction_g_per_km"
    Params = CyclingParams
