"""The operators' metrics: gauges refreshed on a schedule from the first moment, and counters
of rate-limit refusals."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from app import monitoring
from tests.helpers import PASSWORD, citizen
from tests.records.helpers import post


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize("settings_overrides", [{"metrics_refresh_seconds": 3600}])
async def test_the_ledger_check_gauge_is_set_right_after_start(app, settings_overrides):
    for _ in range(200):  # the first refresh runs as soon as the worker starts
        if sample("tanhui_ledger_check_last_run_timestamp_seconds") > 0:
            break
        await asyncio.sleep(0.05)
    assert sample("tanhui_ledger_check_last_run_timestamp_seconds") > 0
    assert sample("tanhui_ledger_check_ok") == 1


async def test_review_queue_and_outstanding_points(app, client):
    me = await citizen(client)
    await post(
        me, "energy.electricity_saving", {"baseline_kwh": 10, "actual_kwh": 8, "period_days": 1}
    )
    credited = await post(me, "cycling", {"distance_km": 3, "duration_min": 12})
    await monitoring.refresh(app, with_ledger_check=False)
    assert sample("tanhui_review_queue_depth") == 1
    assert sample("tanhui_outstanding_points", state="available") == credited.json()["points"]
    assert sample("tanhui_outstanding_points", state="held") == 0


@pytest.mark.parametrize("settings_overrides", [{"rate_limit_auth_per_minute": 2}])
async def test_rate_limit_refusals_are_counted(client, settings_overrides):
    before = sample("tanhui_rate_limited_total", bucket="auth")
    statuses = [
        (
            await client.post(
                "/v1/auth/token", data={"username": "nobody@example.cn", "password": PASSWORD}
            )
        ).status_code
        for _ in range(3)
    ]
    assert statuses[-1] == 429
    assert sample("tanhui_rate_limited_total", bucket="auth") == before + 1
