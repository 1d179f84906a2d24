"""GET /v1/account/stats: the citizen's own credited reductions per period, for the app's charts;
filters take a local date as well as a date-time; a rejected record counts nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.helpers import assert_problem, citizen
from tests.records.helpers import ago, post


async def test_stats_by_day_and_month_count_only_my_credited_records(client, app):
    me, other = await citizen(client), await citizen(client)
    assert (await post(me, "cycling", {"distance_km": 3, "duration_min": 12})).status_code == 201
    assert (
        await post(me, "cycling", {"distance_km": 2, "duration_min": 9}, at=ago(hours=3))
    ).status_code == 201
    walked = await post(me, "walking", {"steps": 6000}, at=ago(hours=5))
    assert walked.status_code == 201, walked.text
    rejected = await post(me, "cycling", {"distance_km": 30, "duration_min": 5}, at=ago(hours=7))
    assert rejected.json()["status"] == "rejected"
    await post(other, "cycling", {"distance_km": 9, "duration_min": 30})

    today = datetime.now(app.state.settings.tz).date().isoformat()
    r = await me.get("/v1/account/stats")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    cycling = [i for i in items if i["methodology"] == "cycling"]
    assert cycling == [
        {
            "period": today,
            "methodology": "cycling",
            "reduction_g": cycling[0]["reduction_g"],
            "points": cycling[0]["points"],
            "records": 2,
        }
    ]
    assert cycling[0]["reduction_g"] > 0
    assert {i["methodology"] for i in items} == {"cycling", "walking"}

    monthly = (await me.get("/v1/account/stats", params={"group_by": "month"})).json()["items"]
    assert {i["period"] for i in monthly} == {today[:7]}
    assert sum(i["records"] for i in monthly) == 3


async def test_a_rejected_record_reduced_nothing_but_keeps_its_calculation(client):
    me = await citizen(client)
    r = await post(me, "cycling", {"distance_km": 30, "duration_min": 5})
    body = r.json()
    assert body["status"] == "rejected" and body["reasons"] == ["implausible_speed"]
    assert body["reduction_g"] == 0 and body["points"] == 0
    detail = (await me.get(f"/v1/events/{body['id']}")).json()
    assert detail["reduction_g"] == 0 and detail["breakdown"]["reduction_g"] > 0


async def test_a_date_filter_is_the_whole_local_day(client, app):
    me = await citizen(client)
    assert (await post(me, "cycling", {"distance_km": 3, "duration_min": 12})).status_code == 201
    tz = app.state.settings.tz
    today = datetime.now(tz).date()
    yesterday = (today - timedelta(days=1)).isoformat()

    def records(items):
        return sum(i["records"] for i in items)

    same_day = await me.get(
        "/v1/account/stats", params={"from": today.isoformat(), "to": str(today)}
    )
    assert records(same_day.json()["items"]) == 1
    before = await me.get("/v1/account/stats", params={"to": yesterday})
    assert records(before.json()["items"]) == 0
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    assert records((await me.get("/v1/account/stats", params={"from": since})).json()["items"]) == 0

    for bad in ("1700000000", "2026-13-01", "today"):
        r = await me.get("/v1/account/stats", params={"from": bad})
        assert_problem(r, 422, "validation_error")
    backwards = await me.get("/v1/account/stats", params={"from": str(today), "to": yesterday})
    assert_problem(backwards, 422, "validation_error")
