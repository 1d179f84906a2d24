"""Behaviour records through the API: the contract of POST/GET /v1/events."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import func, select, update

from app.db import session_scope
from app.models import LedgerTransaction, Record, User
from app.services import ledger
from tests.helpers import assert_problem, citizen, user_with_role
from tests.records.helpers import ago, event, post

METRO_10KM = {"distance_km": 10, "duration_min": 20}


async def count_records(app, user_id: str) -> int:
    async with session_scope(app.state.sessionmaker) as s:
        return int(
            await s.scalar(
                select(func.count()).select_from(Record).where(Record.user_id == user_id)
            )
            or 0
        )


async def test_worked_examples_through_the_api(client):
    c = await citizen(client)
    cases = [
        ("transit.metro", METRO_10KM, 467),
        ("transit.bus", {"distance_km": 10, "duration_min": 30}, 269),
        ("cycling", {"distance_km": 3, "duration_min": 12}, 120),
        ("walking", {"steps": 7250}, 145),
    ]
    for i, (type_, data, grams) in enumerate(cases):
        r = await post(c, type_, data, at=ago(hours=2 + i))
        assert r.status_code == 201, r.text
        body = r.json()
        assert (body["status"], body["reduction_g"], body["points"]) == ("credited", grams, grams)
        assert body["methodology"] == {"code": type_, "version": 1}
    account = (await c.get("/v1/account")).json()
    assert account["balance"] == 467 + 269 + 120 + 145
    assert account["lifetime_reduction_g"] == 467 + 269 + 120 + 145


async def test_walking_30000_steps_in_a_day_credits_296_points_and_records_all_600_g(client):
    c = await citizen(client)
    results = []
    for hours in (3, 2, 1):
        results.append((await post(c, "walking", {"steps": 10_000}, at=ago(hours=hours))).json())
    assert [r["reduction_g"] for r in results] == [200, 200, 200]
    assert [r["points"] for r in results] == [200, 96, 0]
    assert [r["status"] for r in results] == ["credited"] * 3
    assert results[0]["reasons"] == [] and results[1]["reasons"] == ["daily_cap_reached"]
    account = (await c.get("/v1/account")).json()
    assert account["balance"] == 296 and account["lifetime_reduction_g"] == 600


async def test_replay_returns_the_stored_result_and_credits_once(client, app):
    c = await citizen(client)
    body = event("transit.metro", METRO_10KM)
    first = await c.post("/v1/events", json=body)
    again = await c.post(
        "/v1/events", json={**body, "data": {"distance_km": 10.0, "duration_min": 20}}
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert (await c.get("/v1/account")).json()["balance"] == 467


async def test_same_id_with_other_content_is_409_and_changes_nothing(client, app):
    c = await citizen(client)
    body = event("transit.metro", METRO_10KM)
    await c.post("/v1/events", json=body)
    r = await c.post("/v1/events", json={**body, "data": {"distance_km": 11, "duration_min": 20}})
    assert_problem(r, 409, "idempotency_conflict")
    assert await count_records(app, c.id) == 1


async def test_same_record_raced_30_times_credits_once(client, app):
    c = await citizen(client)
    body = event("transit.metro", METRO_10KM)
    rs = await asyncio.gather(*[c.post("/v1/events", json=body) for _ in range(30)])
    assert sorted(r.status_code for r in rs) == [200] * 29 + [201]
    assert len({r.json()["id"] for r in rs}) == 1
    assert (await c.get("/v1/account")).json()["balance"] == 467
    async with session_scope(app.state.sessionmaker) as s:
        credits = await s.scalar(
            select(func.count())
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.user_id == c.id, LedgerTransaction.kind == "credit")
        )
    assert credits == 1


async def test_two_overlapping_rides_raced_credit_only_one(client):
    c = await citizen(client)
    at = ago(hours=1)
    rs = await asyncio.gather(*[post(c, "transit.metro", METRO_10KM, at=at) for _ in range(6)])
    statuses = sorted(r.json()["status"] for r in rs)
    assert statuses == ["credited"] + ["rejected"] * 5
    assert all(
        r.json()["reasons"] == ["overlapping_activity"]
        for r in rs
        if r.json()["status"] == "rejected"
    )
    assert (await c.get("/v1/account")).json()["balance"] == 467


async def test_activities_that_only_touch_do_not_overlap(client):
    c = await citizen(client)
    from datetime import UTC, datetime, timedelta

    end = datetime.now(UTC) - timedelta(hours=1)
    first = await post(c, "transit.metro", METRO_10KM, at=end.isoformat())
    second = await post(
        c,
        "cycling",
        {"distance_km": 3, "duration_min": 12},
        at=(end + timedelta(minutes=12)).isoformat(),
    )
    inside = await post(
        c,
        "cycling",
        {"distance_km": 3, "duration_min": 12},
        at=(end - timedelta(minutes=5)).isoformat(),
    )
    assert first.json()["status"] == second.json()["status"] == "credited"
    assert inside.json()["reasons"] == ["overlapping_activity"]


async def test_daily_cap_raced_never_exceeds_the_cap(client):
    c = await citizen(client)
    rs = await asyncio.gather(
        *[post(c, "walking", {"steps": 5000}, at=ago(minutes=10 + i)) for i in range(10)]
    )
    assert sum(r.json()["points"] for r in rs) == 296
    assert sum(r.json()["reduction_g"] for r in rs) == 1000


async def test_future_and_late_records_are_stored_rejected(client):
    c = await citizen(client)
    future = await post(c, "walking", {"steps": 100}, at=ago(minutes=-10))
    late = await post(c, "walking", {"steps": 100}, at=ago(days=8))
    slightly_ahead = await post(c, "walking", {"steps": 100}, at=ago(minutes=-4))
    assert (future.status_code, future.json()["status"], future.json()["reasons"]) == (
        201,
        "rejected",
        ["in_future"],
    )
    assert late.json()["reasons"] == ["too_late"] and late.json()["points"] == 0
    assert slightly_ahead.json()["status"] == "credited"


async def test_implausible_records_are_rejected_with_reasons(client):
    c = await citizen(client)
    fast = await post(c, "cycling", {"distance_km": 30, "duration_min": 60})
    long = await post(c, "walking", {"steps": 60_000}, at=ago(hours=3))
    assert fast.json()["reasons"] == ["implausible_speed"] and fast.json()["points"] == 0
    assert long.json()["reasons"] == ["implausible_amount"]
    assert (await c.get("/v1/account")).json()["balance"] == 0


async def test_self_reported_electricity_waits_for_review(client):
    c = await citizen(client, region="CN-SX")
    r = await post(
        c, "energy.electricity_saving", {"baseline_kwh": 10, "actual_kwh": 8, "period_days": 1}
    )
    body = r.json()
    assert (body["status"], body["reasons"], body["reduction_g"], body["points"]) == (
        "pending_review",
        ["needs_review"],
        1272,
        0,
    )
    assert (await c.get("/v1/account")).json()["balance"] == 0


async def test_schema_errors_and_unknown_types_are_422_and_store_nothing(client, app):
    c = await citizen(client)
    bad = await post(c, "transit.metro", {"distance_km": -3, "duration_min": 20})
    body = assert_problem(bad, 422, "validation_error")
    assert body["errors"][0]["field"] == "data.distance_km"
    unknown = await post(c, "flying", {"distance_km": 3})
    assert_problem(unknown, 422, "unknown_type")
    naive = await c.post(
        "/v1/events", json={**event("walking", {"steps": 10}), "occurred_at": "2026-11-23T08:30:00"}
    )
    assert_problem(naive, 422, "validation_error")
    extra = await c.post("/v1/events", json={**event("walking", {"steps": 10}), "points": 9999})
    assert_problem(extra, 422)
    assert await count_records(app, c.id) == 0


async def test_records_are_private_to_their_owner(client, app):
    alice, bob = await citizen(client), await citizen(client)
    r = await post(alice, "walking", {"steps": 1000})
    assert_problem(await bob.get(f"/v1/events/{r.json()['id']}"), 404, "not_found")
    assert (await bob.get("/v1/events")).json()["items"] == []
    admin = await user_with_role(app, client, "admin")
    assert_problem(await admin.post("/v1/events", json=event("walking", {"steps": 5})), 403)
    assert_problem(await client.post("/v1/events", json=event("walking", {"steps": 5})), 401)


async def test_record_detail_explains_the_calculation(client):
    c = await citizen(client)
    r = await post(c, "transit.metro", METRO_10KM)
    detail = (await c.get(f"/v1/events/{r.json()['id']}")).json()
    b = detail["breakdown"]
    assert b["reduction_g_per_pkm"] == "46.7" and b["distance_km"] == "10"
    assert b["reduction_g"] == 467 and b["points"] == 467 and b["version"] == 1
    assert detail["params_hash"] == b["params_hash"]


async def test_list_filters_and_paginates_newest_first(client):
    c = await citizen(client)
    for i in range(5):
        await post(c, "walking", {"steps": 100 + i}, at=ago(hours=5 - i))
    await post(c, "cycling", {"distance_km": 50, "duration_min": 60})
    page = (await c.get("/v1/events", params={"limit": 2, "type": "walking"})).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = (
        await c.get("/v1/events", params={"cursor": page["next_cursor"], "type": "walking"})
    ).json()
    ids = [i["id"] for i in page["items"] + rest["items"]]
    assert len(ids) == len(set(ids)) == 5 and rest["next_cursor"] is None
    rejected = (await c.get("/v1/events", params={"status": "rejected"})).json()["items"]
    assert [r["type"] for r in rejected] == ["cycling"]
    assert_problem(await c.get("/v1/events", params={"status": "lost"}), 422)


async def test_batch_answers_each_item_and_a_bad_item_fails_alone(client, app):
    c = await citizen(client)
    good = event("walking", {"steps": 1000}, at=ago(hours=2))
    bad = event("walking", {"steps": -1})
    unknown = event("flying", {})
    r = await c.post(
        "/v1/events/batch", json={"events": [good, bad, unknown, good, {"nonsense": True}]}
    )
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x["status"] for x in results] == [
        "credited",
        "invalid",
        "invalid",
        "credited",
        "invalid",
    ]
    assert results[1]["error"]["code"] == "validation_error"
    assert results[2]["error"]["code"] == "unknown_type"
    assert results[3]["replayed"] is True and results[3]["id"] == results[0]["id"]
    assert await count_records(app, c.id) == 1
    assert_problem(await c.post("/v1/events/batch", json={"events": []}), 422)
    assert_problem(await c.post("/v1/events/batch", json={"events": [good] * 501}), 422)


async def test_a_citizen_disabled_while_their_token_still_stands_stores_nothing(client, app):
    """The account is disabled in the database alone, as if its revocation had not reached the
    token store yet: the records are refused in their unit of work, single and batch alike."""
    c = await citizen(client)
    assert (await post(c, "walking", {"steps": 1000}, at=ago(hours=3))).status_code == 201
    async with session_scope(app.state.sessionmaker) as s:
        await s.execute(update(User).where(User.id == c.id).values(is_active=False))
    batch = await c.post(
        "/v1/events/batch", json={"events": [event("walking", {"steps": 2000}, at=ago(hours=2))]}
    )
    assert assert_problem(batch, 401)["reason"] == "token_revoked"
    single = await post(c, "walking", {"steps": 3000}, at=ago(hours=1))
    assert assert_problem(single, 401)["reason"] == "token_revoked"
    assert await count_records(app, c.id) == 1


async def test_a_batch_item_is_the_answer_post_events_gives(client):
    """Field for field and in the same text: a record sent with an offset is answered in UTC
    with microseconds by both, and a batch replaying it answers what the single post did."""
    c = await citizen(client)
    beijing = timezone(timedelta(hours=8))
    at = datetime.now(UTC).replace(microsecond=0).astimezone(beijing)
    first = event("walking", {"steps": 1000}, at=(at - timedelta(hours=3)).isoformat())
    second = event("walking", {"steps": 1200}, at=(at - timedelta(hours=1)).isoformat())
    single = await c.post("/v1/events", json=first)
    assert single.status_code == 201
    results = (await c.post("/v1/events/batch", json={"events": [first, second]})).json()["results"]
    replay, new = ({k: v for k, v in r.items() if k not in ("replayed", "error")} for r in results)
    assert replay == single.json()
    alone = (await c.get(f"/v1/events/{new['id']}")).json()
    assert {k: alone[k] for k in new} == new
    for instant in (replay["occurred_at"], new["occurred_at"], new["received_at"]):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", instant), instant


async def test_batch_decides_its_records_in_order_as_if_posted_one_by_one(client, app):
    """Caps, overlaps and ids are checked against earlier items of the same batch too."""
    c = await citizen(client)
    same_id = uuid.uuid4().hex
    items = [
        event("walking", {"steps": 10_000}, at=ago(hours=5)),
        event("walking", {"steps": 10_000}, at=ago(hours=4)),
        event("walking", {"steps": 10_000}, at=ago(hours=3)),
        event("transit.metro", METRO_10KM, at=ago(hours=2), cid=same_id),
        event("transit.bus", {"distance_km": 5, "duration_min": 20}, at=ago(hours=2, minutes=5)),
        event("transit.metro", {"distance_km": 11, "duration_min": 20}, cid=same_id),
    ]
    results = (await c.post("/v1/events/batch", json={"events": items})).json()["results"]
    assert [r["points"] for r in results[:3]] == [200, 96, 0]
    assert results[1]["reasons"] == ["daily_cap_reached"]
    assert (results[3]["status"], results[3]["points"]) == ("credited", 467)
    assert (results[4]["status"], results[4]["reasons"]) == ("rejected", ["overlapping_activity"])
    assert results[5]["error"]["code"] == "idempotency_conflict"
    assert await count_records(app, c.id) == 5
    assert (await c.get("/v1/account")).json()["balance"] == 296 + 467


async def test_batch_credits_repay_a_debt_first(client, app):
    admin = await user_with_role(app, client, "admin")
    c = await citizen(client)
    ride = (await post(c, "transit.metro", METRO_10KM, at=ago(hours=6))).json()
    async with session_scope(app.state.sessionmaker) as s:
        h = await ledger.hold(
            s,
            user_id=c.id,
            points=467,
            ref=f"spend-{c.id}",
            cause_type="redemption",
            cause_id=None,
        )
        await ledger.settle(s, h.id, merchant_id="m-debt")
    r = await admin.post(f"/v1/admin/events/{ride['id']}/reverse", json={"reason": "spoofed"})
    assert r.status_code == 200
    items = [
        event("walking", {"steps": 10_000}, at=ago(hours=3)),
        event("cycling", {"distance_km": 3, "duration_min": 12}, at=ago(hours=2)),
        event("transit.bus", {"distance_km": 10, "duration_min": 30}, at=ago(hours=1)),
    ]
    results = (await c.post("/v1/events/batch", json={"events": items})).json()["results"]
    assert [r["points"] for r in results] == [200, 120, 269]
    account = (await c.get("/v1/account")).json()
    assert (account["balance"], account["debt"]) == (200 + 120 + 269 - 467, 0)


async def test_methodologies_are_public_with_schemas_and_parameters(client):
    items = (await client.get("/v1/methodologies")).json()["items"]
    assert [m["code"] for m in items] == [
        "cycling",
        "energy.electricity_saving",
        "purchase.labelled_product",
        "recycling",
        "transit.bus",
        "transit.metro",
        "walking",
    ]
    assert all(m["version"] == 1 and "properties" in m["input_schema"] for m in items)
    metro = (await client.get("/v1/methodologies/transit.metro")).json()
    assert metro["params"]["reduction_g_per_pkm"] == "46.7"
    assert metro["params"]["daily_cap_points"] == 2000
    assert_problem(await client.get("/v1/methodologies/flying"), 404)


async def test_client_event_ids_are_per_user(client):
    alice, bob = await citizen(client), await citizen(client)
    cid = str(uuid.uuid4())
    a = await post(alice, "walking", {"steps": 1000}, cid=cid)
    b = await post(bob, "walking", {"steps": 2000}, cid=cid)
    assert (a.status_code, b.status_code) == (201, 201) and a.json()["id"] != b.json()["id"]


async def test_a_batch_counts_each_record_once_in_the_metrics(client):
    from prometheus_client import REGISTRY

    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    c = await citizen(client)
    before = {
        "credited": sample("tanhui_records_total", methodology="walking", status="credited"),
        "rejected": sample("tanhui_records_total", methodology="walking", status="rejected"),
        "late": sample("tanhui_record_reasons_total", reason="too_late"),
        "points": sample("tanhui_points_credited_total", methodology="walking"),
    }
    body = {
        "events": [event("walking", {"steps": 1000}, at=ago(hours=1 + i)) for i in range(3)]
        + [event("walking", {"steps": 1000}, at=ago(days=30))]
    }
    r = await c.post("/v1/events/batch", json=body)
    assert r.status_code == 200, r.text
    statuses = [item["status"] for item in r.json()["results"]]
    assert statuses == ["credited", "credited", "credited", "rejected"], r.text
    points = sum(item["points"] for item in r.json()["results"])
    assert points > 0
    after = {
        "credited": sample("tanhui_records_total", methodology="walking", status="credited"),
        "rejected": sample("tanhui_records_total", methodology="walking", status="rejected"),
        "late": sample("tanhui_record_reasons_total", reason="too_late"),
        "points": sample("tanhui_points_credited_total", methodology="walking"),
    }
    assert after["credited"] - before["credited"] == 3
    assert after["rejected"] - before["rejected"] == 1
    assert after["late"] - before["late"] == 1
    assert after["points"] - before["points"] == points
