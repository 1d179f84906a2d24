"""Administration: versions, simulation, review, clawback and reports, as specifications."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta

from app.db import session_scope
from app.services import ledger
from tests.helpers import assert_problem, citizen, user_with_role
from tests.records.helpers import ago, post

METRO = {
    "reduction_g_per_pkm": "46.7",
    "daily_cap_points": 2000,
    "points_per_g": "1",
    "min_speed_kmh": "5",
    "max_speed_kmh": "80",
    "max_distance_km": "100",
    "regions": {},
}


def iso(dt: datetime) -> str:
    return dt.isoformat()


async def test_publishing_a_version_validates_params_and_date(app, client):
    admin = await user_with_role(app, client, "admin")
    url = "/v1/admin/methodologies/transit.metro/versions"
    start = iso(datetime.now(UTC) + timedelta(days=1))
    bad = await admin.post(
        url, json={"params": {**METRO, "reduction_g_per_pkm": "-1"}, "effective_from": start}
    )
    body = assert_problem(bad, 422, "validation_error")
    assert body["errors"][0]["field"] == "params.reduction_g_per_pkm"
    unknown = await admin.post(url, json={"params": {**METRO, "bogus": 1}, "effective_from": start})
    assert_problem(unknown, 422)
    past = await admin.post(
        url, json={"params": METRO, "effective_from": iso(datetime.now(UTC) - timedelta(days=1))}
    )
    assert_problem(past, 422, "validation_error")
    assert_problem(
        await admin.post(
            "/v1/admin/methodologies/flying/versions",
            json={"params": METRO, "effective_from": start},
        ),
        404,
    )
    later = iso(datetime.now(UTC) + timedelta(days=30))
    r1 = await admin.post(
        url,
        json={
            "params": {**METRO, "reduction_g_per_pkm": "50"},
            "effective_from": start,
            "note": "2027 factor",
        },
    )
    r2 = await admin.post(
        url, json={"params": {**METRO, "reduction_g_per_pkm": "55"}, "effective_from": later}
    )
    assert (r1.status_code, r2.status_code) == (201, 201)
    assert (r1.json()["version"], r2.json()["version"]) == (2, 3)
    items = (await admin.get(url)).json()["items"]
    assert [v["version"] for v in items] == [1, 2, 3]
    assert items[1]["params"]["reduction_g_per_pkm"] == "50" and items[1]["note"] == "2027 factor"
    audit = (
        await admin.get("/v1/admin/audit", params={"action": "methodology_version.created"})
    ).json()
    assert len(audit["items"]) == 2


async def test_concurrent_publications_get_distinct_version_numbers(app, client):
    admin = await user_with_role(app, client, "admin")
    start = iso(datetime.now(UTC) + timedelta(days=2))
    rs = await asyncio.gather(
        *[
            admin.post(
                "/v1/admin/methodologies/walking/versions",
                json={"params": {"reduction_g_per_step": f"0.0{i + 1}"}, "effective_from": start},
            )
            for i in range(5)
        ]
    )
    assert sorted(r.json()["version"] for r in rs) == [2, 3, 4, 5, 6]


async def test_records_use_the_version_in_force_when_they_occurred(app, client):
    """A new grid factor applies from its date on; older records keep their grams."""
    admin = await user_with_role(app, client, "admin")
    effective = datetime.now(UTC) + timedelta(seconds=2)
    r = await admin.post(
        "/v1/admin/methodologies/transit.metro/versions",
        json={"params": {**METRO, "reduction_g_per_pkm": "50"}, "effective_from": iso(effective)},
    )
    assert r.status_code == 201
    c = await citizen(client)
    before = await post(
        c, "transit.metro", {"distance_km": 10, "duration_min": 20}, at=ago(hours=2)
    )
    await asyncio.sleep(2.1)
    after = await post(
        c, "transit.metro", {"distance_km": 10, "duration_min": 20}, at=iso(datetime.now(UTC))
    )
    assert (before.json()["reduction_g"], before.json()["methodology"]["version"]) == (467, 1)
    assert (after.json()["reduction_g"], after.json()["methodology"]["version"]) == (500, 2)
    again = (await c.get(f"/v1/events/{before.json()['id']}")).json()
    assert again["reduction_g"] == 467


async def test_simulation_matches_hand_computed_totals_and_changes_nothing(app, client):
    admin = await user_with_role(app, client, "admin")
    a = await citizen(client, region="CN-SX")
    start = datetime.now(UTC) - timedelta(hours=6)
    await post(a, "transit.metro", {"distance_km": 10, "duration_min": 20}, at=ago(hours=3))
    await post(a, "transit.metro", {"distance_km": 20, "duration_min": 30}, at=ago(hours=2))
    await post(a, "transit.metro", {"distance_km": 10, "duration_min": 2}, at=ago(hours=1))
    balance = (await a.get("/v1/account")).json()["balance"]
    assert balance == 467 + 934
    body = {
        "params": {**METRO, "reduction_g_per_pkm": "50"},
        "from": iso(start),
        "to": iso(datetime.now(UTC)),
    }
    r = await admin.post("/v1/admin/methodologies/transit.metro/simulate", json=body)
    assert r.status_code == 200, r.text
    sim = r.json()
    assert sim["records"] == 3
    assert sim["current"] == {
        "reduction_g": 1401,
        "points": 1401,
        "credited": 2,
        "rejected": 1,
        "pending_review": 0,
        "cap_hits": 0,
    }
    assert sim["proposed"] == {
        "reduction_g": 1500,
        "points": 1500,
        "credited": 2,
        "rejected": 1,
        "pending_review": 0,
        "cap_hits": 0,
    }
    assert sim["delta"] == {"reduction_g": 99, "points": 99}
    assert sim["by_region"] == [
        {
            "region": "CN-SX",
            "current": {"reduction_g": 1401, "points": 1401},
            "proposed": {"reduction_g": 1500, "points": 1500},
        }
    ]
    assert sim["top_changes"][0]["proposed_points"] == 1000

    capped = {**body, "params": {**METRO, "reduction_g_per_pkm": "50", "daily_cap_points": 1200}}
    sim2 = (await admin.post("/v1/admin/methodologies/transit.metro/simulate", json=capped)).json()
    assert sim2["proposed"]["points"] == 1200 and sim2["proposed"]["cap_hits"] == 1
    assert sim2["proposed"]["reduction_g"] == 1500

    faster = {**body, "params": {**METRO, "max_speed_kmh": "400"}}
    sim3 = (await admin.post("/v1/admin/methodologies/transit.metro/simulate", json=faster)).json()
    assert sim3["proposed"]["credited"] == 3 and sim3["proposed"]["points"] == 1401 + 467

    assert (await a.get("/v1/account")).json()["balance"] == balance
    bad = await admin.post(
        "/v1/admin/methodologies/transit.metro/simulate",
        json={**body, "from": body["to"], "to": body["from"]},
    )
    assert_problem(bad, 422)
    auditor = await user_with_role(app, client, "auditor")
    assert_problem(
        await auditor.post("/v1/admin/methodologies/transit.metro/simulate", json=body), 403
    )


async def test_review_approves_or_rejects_pending_records_once(app, client):
    admin = await user_with_role(app, client, "admin")
    c = await citizen(client, region="CN-SX")
    saving = {"baseline_kwh": 10, "actual_kwh": 8, "period_days": 1}
    first = (await post(c, "energy.electricity_saving", saving, at=ago(days=2))).json()
    second = (await post(c, "energy.electricity_saving", saving, at=ago(days=1))).json()
    pending = (await admin.get("/v1/admin/review")).json()["items"]
    assert [p["id"] for p in pending] == [first["id"], second["id"]]

    approvals = await asyncio.gather(
        *[admin.post(f"/v1/admin/events/{first['id']}/approve") for _ in range(4)]
    )
    assert sorted(r.status_code for r in approvals) == [200, 409, 409, 409]
    approved = next(r.json() for r in approvals if r.status_code == 200)
    assert (approved["status"], approved["points"]) == ("credited", 1272)
    assert (await c.get("/v1/account")).json()["balance"] == 1272

    assert_problem(await admin.post(f"/v1/admin/events/{second['id']}/reject", json={}), 422)
    rejected = await admin.post(
        f"/v1/admin/events/{second['id']}/reject", json={"reason": "meter photo does not match"}
    )
    assert rejected.json()["status"] == "rejected"
    assert "rejected_by_review" in rejected.json()["reasons"]
    assert (await admin.get("/v1/admin/review")).json()["items"] == []
    assert_problem(await admin.post("/v1/admin/events/no-such-id/approve"), 404)
    actions = [
        e["action"]
        for e in (await admin.get("/v1/admin/audit", params={"target_type": "record"})).json()[
            "items"
        ]
    ]
    assert sorted(actions) == ["record.approved", "record.rejected"]


async def test_reversal_claws_back_once_and_books_spent_points_as_debt(app, client):
    admin = await user_with_role(app, client, "admin")
    c = await citizen(client)
    ride = (await post(c, "transit.metro", {"distance_km": 10, "duration_min": 20})).json()
    async with session_scope(app.state.sessionmaker) as s:
        h = await ledger.hold(
            s, user_id=c.id, points=400, ref="spend", cause_type="redemption", cause_id=None
        )
        await ledger.settle(s, h.id, merchant_id="m-1")
    assert_problem(await admin.post(f"/v1/admin/events/{ride['id']}/reverse", json={}), 422)
    r = await admin.post(f"/v1/admin/events/{ride['id']}/reverse", json={"reason": "GPS spoof"})
    assert r.status_code == 200 and r.json()["reversed_at"]
    account = (await c.get("/v1/account")).json()
    assert (account["balance"], account["debt"], account["lifetime_reduction_g"]) == (0, 400, 0)
    assert_problem(
        await admin.post(f"/v1/admin/events/{ride['id']}/reverse", json={"reason": "again"}),
        409,
        "already_reversed",
    )
    await post(c, "walking", {"steps": 10_000}, at=ago(hours=3))
    account = (await c.get("/v1/account")).json()
    assert (account["balance"], account["debt"]) == (0, 200)
    check = (await admin.get("/v1/admin/ledger/check")).json()
    assert check["ok"] is True


async def test_reports_total_the_credited_records_in_json_and_csv(app, client):
    admin = await user_with_role(app, client, "admin")
    a = await citizen(client, region="CN-SX")
    b = await citizen(client, region="CN-GD")
    await post(a, "transit.metro", {"distance_km": 10, "duration_min": 20}, at=ago(hours=3))
    await post(a, "walking", {"steps": 7250}, at=ago(hours=2))
    await post(b, "cycling", {"distance_km": 3, "duration_min": 12}, at=ago(hours=2))
    await post(b, "cycling", {"distance_km": 90, "duration_min": 60}, at=ago(hours=1))
    window = {"from": ago(days=1), "to": iso(datetime.now(UTC) + timedelta(minutes=1))}
    by_m = (
        await admin.get(
            "/v1/admin/reports/reductions", params={**window, "group_by": "methodology"}
        )
    ).json()
    rows = {r["key"]: r for r in by_m["rows"]}
    assert {k: r["reduction_g"] for k, r in rows.items()} == {
        "transit.metro": 467,
        "walking": 145,
        "cycling": 120,
    }
    assert by_m["totals"]["reduction_g"] == 732 and by_m["totals"]["records"] == 3
    by_r = (
        await admin.get("/v1/admin/reports/reductions", params={**window, "group_by": "region"})
    ).json()
    assert {r["key"]: r["reduction_g"] for r in by_r["rows"]} == {"CN-SX": 612, "CN-GD": 120}
    r = await admin.get(
        "/v1/admin/reports/reductions",
        params={**window, "group_by": "day"},
        headers={"Accept": "text/csv"},
    )
    assert r.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(r.text)))
    key = next(iter(table[0]))
    day_rows = [t for t in table if t[key] != "totals"]
    totals = next(t for t in table if t[key] == "totals")
    assert sum(int(t["reduction_g"]) for t in day_rows) == int(totals["reduction_g"]) == 732
    assert_problem(
        await admin.get("/v1/admin/reports/reductions", params={**window, "group_by": "user"}), 422
    )
    auditor = await user_with_role(app, client, "auditor")
    assert (
        await auditor.get("/v1/admin/reports/reductions", params={**window, "group_by": "day"})
    ).status_code == 200


async def test_auditor_reads_every_admin_list_and_changes_nothing(app, client):
    auditor = await user_with_role(app, client, "auditor")
    for url in (
        "/v1/admin/review",
        "/v1/admin/audit",
        "/v1/admin/users",
        "/v1/admin/partners",
        "/v1/admin/merchants",
        "/v1/admin/ledger/check",
        "/v1/admin/methodologies/cycling/versions",
    ):
        assert (await auditor.get(url)).status_code == 200, url
    start = iso(datetime.now(UTC) + timedelta(days=1))
    for url, body in (
        ("/v1/admin/methodologies/cycling/versions", {"params": {}, "effective_from": start}),
        ("/v1/admin/merchants", {"name": "X"}),
        ("/v1/admin/partners", {"name": "X", "allowed_types": ["cycling"]}),
        ("/v1/admin/leaderboards/rebuild", None),
    ):
        assert_problem(await auditor.post(url, json=body), 403)


async def test_operators_list_one_citizens_records_paged_and_filtered(app, client):
    admin = await user_with_role(app, client, "admin")
    auditor = await user_with_role(app, client, "auditor")
    alice = await citizen(client, region="CN-SX")
    bob = await citizen(client, region="CN-SX")
    ride = {"distance_km": 12.4, "duration_min": 31}
    saving = {"baseline_kwh": 10, "actual_kwh": 8, "period_days": 1}
    mine = []
    for hours in (9, 6, 3):
        r = await post(alice, "transit.metro", ride, at=ago(hours=hours))
        assert r.status_code == 201, r.text
        mine.append(r.json()["id"])
    pending = (await post(alice, "energy.electricity_saving", saving, at=ago(days=1))).json()
    mine.append(pending["id"])
    assert (await post(bob, "transit.metro", ride)).status_code == 201

    # Newest received first, every status, paged with the shared cursor.
    seen, cursor = [], None
    while True:
        params = {"user_id": alice.id, "limit": 3, **({"cursor": cursor} if cursor else {})}
        r = await auditor.get("/v1/admin/events", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= 3
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [x["id"] for x in seen] == mine[::-1]
    assert {x["user_id"] for x in seen} == {alice.id}
    assert seen[0]["status"] == "pending_review" and seen[0]["type"] == "energy.electricity_saving"

    waiting = await admin.get(
        "/v1/admin/events", params={"user_id": alice.id, "status": "pending_review"}
    )
    assert [x["id"] for x in waiting.json()["items"]] == [pending["id"]]
    rides = await admin.get(
        "/v1/admin/events", params={"user_id": alice.id, "type": "transit.metro"}
    )
    assert [x["id"] for x in rides.json()["items"]] == mine[2::-1]
    nobody = await admin.get("/v1/admin/events", params={"user_id": "no-such-citizen"})
    assert nobody.status_code == 200 and nobody.json() == {"items": [], "next_cursor": None}

    # Operators only; a missing citizen, a bad status or a forged cursor is a 4xx.
    assert_problem(await alice.get("/v1/admin/events", params={"user_id": alice.id}), 403)
    assert_problem(await admin.get("/v1/admin/events"), 422, "validation_error")
    assert_problem(
        await admin.get("/v1/admin/events", params={"user_id": alice.id, "status": "lost"}), 422
    )
    forged = await admin.get("/v1/admin/events", params={"user_id": alice.id, "cursor": "WzFd"})
    assert assert_problem(forged, 400, "bad_request")["reason"] == "invalid_cursor"
