from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.identity import UserOut


class SignInIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"email": "officer@example.cn", "password": "Green-Commute-2026"}]
        },
    )

    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=256)


class ConsoleSessionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user": {
                        "id": "0b6c2e4a-7d1f-4f3e-9c8a-1e2d3c4b5a69",
                        "email": "officer@example.cn",
                        "role": "admin",
                        "display_name": None,
                        "region": None,
                        "merchant_id": None,
                    },
                    "csrf_token": "q4Xr….Zb7k…",
                    "expires_in": 900,
                }
            ]
        }
    )

    user: UserOut
    csrf_token: str = Field(
        description="Send it as the X-CSRF-Token header with every request the cookie signs in"
    )
    expires_in: int | None = Field(
        default=None, description="Seconds the access cookie's token lives, when just issued"
    )


class DayAmounts(BaseModel):
    day: str = Field(description="Local day in the platform's time zone, YYYY-MM-DD")
    records: int
    reduction_g: int
    points: int


class PeriodAmounts(BaseModel):
    records: int = Field(description="Credited, non-reversed records")
    reduction_g: int
    points: int


class DashboardOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "today": "2026-11-25",
                    "day": {"records": 12, "reduction_g": 9400, "points": 9400},
                    "month": {"records": 310, "reduction_g": 250100, "points": 249000},
                    "received_today": 14,
                    "review_queue": 3,
                    "points_outstanding": 120400,
                    "points_held": 3000,
                    "debt": 0,
                    "series": [
                        {"day": "2026-11-25", "records": 12, "reduction_g": 9400, "points": 9400}
                    ],
                }
            ]
        }
    )

    today: str
    day: PeriodAmounts
    month: PeriodAmounts
    received_today: int = Field(description="Records received today, whatever their status")
    review_queue: int = Field(description="Records waiting for review")
    points_outstanding: int = Field(description="Citizens' available and held points")
    points_held: int = Field(description="Of which held by issued redemption codes")
    debt: int = Field(description="Points citizens owe after clawbacks")
    series: list[DayAmounts] = Field(description="The last 30 local days, oldest first")
