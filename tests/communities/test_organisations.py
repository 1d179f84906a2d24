"""Organisations: join codes, at most three memberships, statistics of members' records while
they were members, and the organisation leaderboard."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.communities.helpers import join, organisation
from tests.helpers import assert_problem, citizen, user_with_role
from tests.records.helpers import post


def metro(km: int = 10) -> dict:
    return {"distance_km": km, "duration_min": 20}


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


async def test_admin_registers_organisations_citizens_list_them_without_the_join_code(app, client):
    admin = await user_with_role(app, client, "admin")
    org = await organisation(admin)
    assert len(org["join_code"]) == 8 and org["member_count"] == 0
    await organisation(admin, name="Taiyuan University of Technology", kind="campus")
    c = await citizen(client)
    listed = (await c.get("/v1/organisations?kind=campus")).json()["items"]
    assert [o["name"] for o in listed] == ["Taiyuan University of Technology"]
    assert "join_code" not in listed[0]
    everything = (await c.get("/v1/organisations?region=CN-SX")).json()["items"]
    assert len(everything) == 2
    assert_problem(await c.post("/v1/admin/organisations", json={"name": "x"}), 403)
    bad = {"name": "X", "kind": "club", "region": "CN-SX"}
    assert_problem(await admin.post("/v1/admin/organisations", json=bad), 422)


async def test_a_citizen_joins_with_the_code_once_and_leaves(app, client):
    admin = await user_with_role(app, client, "admin")
    org = await organisation(admin)
    c = await citizen(client)
    r = await join(c, org["join_code"].lower())
    assert r.status_code == 201, r.text
    assert r.json()["organisation"]["member_count"] == 1
    assert_problem(await join(c, org["join_code"]), 409, "already_member")
    assert_problem(await join(c, "NOPE2345"), 404)
    mine = (await c.get("/v1/me/organisations")).json()["items"]
    assert [m["organisation"]["id"] for m in mine] == [org["id"]]
    assert (await c.delete(f"/v1/me/organisations/{org['id']}")).status_code == 204
    assert_problem(await c.delete(f"/v1/me/organisations/{org['id']}"), 404)
    assert (await c.get("/v1/me/organisations")).json()["items"] == []
    assert (await join(c, org["join_code"])).status_code == 201  # a new membership period


async def test_joining_a_fourth_organisation_is_refused_even_when_raced(app, client):
    admin = await user_with_role(app, client, "admin")
    orgs = [await organisation(admin, name=f"Community {i}") for i in range(6)]
    c = await citizen(client)
    answers = await asyncio.gather(*(join(c, o["join_code"]) for o in orgs))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201, 201, 201, 409, 409, 409]
    for r in answers:
        if r.status_code == 409:
            assert r.json()["code"] == "membership_limit"
    assert len((await c.get("/v1/me/organisations")).json()["items"]) == 3


async def test_stats_count_members_records_only_while_they_were_members(app, client):
    admin = await user_with_role(app, client, "admin")
    org = await organisation(admin)
    alice, bob = await citizen(client), await citizen(client)
    # Alice's ride before she joins stays out; Bob is never a member.
    before = (datetime.now(UTC) - timedelta(minutes=30)).isoformat()
    assert (await post(alice, "transit.metro", metro(), at=before)).status_code == 201
    assert (await join(alice, org["join_code"])).status_code == 201
    await asyncio.sleep(0.01)
    r = await post(alice, "transit.metro", metro(), at=now_iso())
    assert r.json()["reduction_g"] == 467
    await post(bob, "transit.metro", metro(), at=now_iso())
    stats = (await alice.get(f"/v1/organisations/{org['id']}/stats")).json()
    assert stats["totals"] == {"records": 1, "reduction_g": 467, "points": 467}
    today = stats["periods"][-1]
    assert today["members"] == 1
    assert today["by_methodology"] == [
        {"code": "transit.metro", "records": 1, "reduction_g": 467, "points": 467}
    ]
    # Leaving keeps what she did as a member; what she does afterwards does not count.
    assert (await alice.delete(f"/v1/me/organisations/{org['id']}")).status_code == 204
    await asyncio.sleep(0.01)
    walk = await post(alice, "walking", {"steps": 7250}, at=now_iso())
    assert walk.json()["status"] == "credited"
    after = (await admin.get(f"/v1/organisations/{org['id']}/stats?group_by=month")).json()
    assert after["totals"] == {"records": 1, "reduction_g": 467, "points": 467}
    assert after["periods"][-1]["members"] == 1 and after["member_count"] == 0


async def test_stats_are_for_members_and_administrators_only(app, client):
    admin = await user_with_role(app, client, "admin")
    org = await organisation(admin)
    outsider = await citizen(client)
    assert_problem(await outsider.get(f"/v1/organisations/{org['id']}/stats"), 403)
    auditor = await user_with_role(app, client, "auditor")
    assert (await auditor.get(f"/v1/organisations/{org['id']}/stats")).status_code == 200
    assert_problem(await admin.get("/v1/organisations/nope/stats"), 404)
    bad = f"/v1/organisations/{org['id']}/stats?from=2026-01-02&to=2026-01-01"
    assert_problem(await admin.get(bad), 422)


async def test_a_reversed_record_leaves_the_organisation_statistics(app, client):
    admin = await user_with_role(app, client, "admin")
    org = await organisation(admin)
    c = await citizen(client)
    await join(c, org["join_code"])
    await asyncio.sleep(0.01)
    ride = (await post(c, "transit.metro", metro(), at=now_iso())).json()
    r = await admin.post(f"/v1/admin/events/{ride['id']}/reverse", json={"reason": "spoofed"})
    assert r.status_code == 200, r.text
    stats = (await c.get(f"/v1/organisations/{org['id']}/stats")).json()
    assert stats["totals"] == {"records": 0, "reduction_g": 0, "points": 0}


async def test_leaderboard_ranks_organisations_by_members_reductions(app, client):
    admin = await user_with_role(app, client, "admin")
    near = await organisation(admin, name="Near")
    far = await organisation(admin, name="Far", region="CN-GD")
    campus = await organisation(admin, name="Campus", kind="campus")
    people = [await citizen(client) for _ in range(3)]
    for person, org in zip(people, (near, far, campus), strict=True):
        assert (await join(person, org["join_code"])).status_code == 201
    await asyncio.sleep(0.01)
    await post(people[0], "transit.metro", metro(10), at=now_iso())  # 467
    await post(people[1], "transit.metro", metro(20), at=now_iso())  # 934
    await post(people[2], "cycling", {"distance_km": 3, "duration_min": 15}, at=now_iso())
    board = (await people[0].get("/v1/leaderboards/organisations/day")).json()
    assert [(i["rank"], i["organisation"]["name"], i["reduction_g"]) for i in board["items"]] == [
        (1, "Far", 934),
        (2, "Near", 467),
        (3, "Campus", 120),
    ]
    sx = (await people[0].get("/v1/leaderboards/organisations/month?region=CN-SX")).json()
    assert [i["organisation"]["name"] for i in sx["items"]] == ["Near", "Campus"]
    kind = (await people[0].get("/v1/leaderboards/organisations/all?kind=campus")).json()
    assert [i["organisation"]["name"] for i in kind["items"]] == ["Campus"]
    assert_problem(await people[0].get("/v1/leaderboards/organisations/year"), 422)


async def test_a_record_reported_after_joining_that_occurred_before_does_not_count(app, client):
    admin = await user_with_role(app, client, "admin")
    org = await organisation(admin)
    c = await citizen(client)
    await join(c, org["join_code"])
    earlier = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    assert (await post(c, "transit.metro", metro(), at=earlier)).status_code == 201
    stats = (await c.get(f"/v1/organisations/{org['id']}/stats")).json()
    assert stats["totals"]["records"] == 0


async def test_export_shows_memberships_and_erasure_ends_them(app, client):
    from tests.helpers import PASSWORD

    admin = await user_with_role(app, client, "admin")
    org = await organisation(admin)
    c = await citizen(client)
    await join(c, org["join_code"])
    exported = (await c.get("/v1/me/export")).json()
    assert [m["organisation_id"] for m in exported["organisations"]] == [org["id"]]
    assert exported["donations"] == []
    r = await client.request("DELETE", "/v1/me", json={"password": PASSWORD}, headers=c.headers)
    assert r.status_code == 204, r.text
    after = (await admin.get(f"/v1/admin/organisations/{org['id']}")).json()
    assert after["member_count"] == 0


async def test_members_are_counted_by_the_platforms_local_day_west_of_greenwich(app, client):
    """Joining at 20:00 local time ten hours west of Greenwich is 06:00 of the next UTC day:
    the citizen is a member on the local day they joined, not from the UTC one."""
    from datetime import date, timezone

    from sqlalchemy import update

    from app.db import session_scope
    from app.models import Membership, Organisation
    from app.services.communities import stats

    admin = await user_with_role(app, client, "admin")
    org = await organisation(admin)
    c = await citizen(client)
    assert (await join(c, org["join_code"])).status_code == 201
    west = timezone(timedelta(hours=-10))
    day = date(2026, 3, 10)
    joined = datetime(2026, 3, 10, 20, 0, tzinfo=west)  # 2026-03-11 06:00 UTC
    async with session_scope(app.state.sessionmaker) as session:
        await session.execute(
            update(Membership).where(Membership.user_id == c.id).values(joined_at=joined)
        )
    async with session_scope(app.state.sessionmaker) as session:
        found = await session.get(Organisation, org["id"])
        body = await stats.organisation_stats(
            session, found, day - timedelta(days=1), day + timedelta(days=1), "day", west
        )
    members = {p["period"]: p["members"] for p in body["periods"]}
    assert members == {"2026-03-09": 0, "2026-03-10": 1, "2026-03-11": 1}
