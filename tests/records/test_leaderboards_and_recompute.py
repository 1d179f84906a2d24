from __future__ import annotations

from sqlalchemy import select

from app.db import session_scope
from app.models import MethodologyVersion, Record
from app.rules import Context, params_from_json, params_hash, registry
from tests.helpers import assert_problem, citizen, user_with_role
from tests.records.helpers import ago, post

# Records on the boards occur now (``ago()``): the day board is the platform's local day, and a
# record of an hour ago is on yesterday's board during the first hour after local midnight.


async def test_leaderboards_rank_by_reduction_per_region_and_rebuild(app, client):
    a = await citizen(client, region="CN-SX")
    b = await citizen(client, region="CN-SX")
    c = await citizen(client, region="CN-GD")
    await post(a, "walking", {"steps": 5000}, at=ago())
    await post(b, "transit.metro", {"distance_km": 10, "duration_min": 20}, at=ago())
    await post(c, "cycling", {"distance_km": 3, "duration_min": 12}, at=ago())
    board = (await a.get("/v1/leaderboards/all")).json()
    assert [(i["rank"], i["reduction_g"], i["is_me"]) for i in board["items"]] == [
        (1, 467, False),
        (2, 120, False),
        (3, 100, True),
    ]
    assert board["me"] == {"rank": 3, "reduction_g": 100}
    for user in (a, b, c):
        assert user.id not in str(board)
    sx = (await a.get("/v1/leaderboards/day", params={"region": "CN-SX"})).json()
    assert [i["reduction_g"] for i in sx["items"]] == [467, 100]
    admin = await user_with_role(app, client, "admin")
    await app.state.kv.delete_prefix("lb:")
    assert (await a.get("/v1/leaderboards/week")).json()["items"] == []
    rebuilt = await admin.post("/v1/admin/leaderboards/rebuild")
    assert rebuilt.status_code == 200
    audit = await admin.get("/v1/admin/audit", params={"action": "leaderboards.rebuilt"})
    [entry] = audit.json()["items"]
    assert entry["actor_id"] == admin.id
    assert entry["after"] == {"rows": rebuilt.json()["rebuilt_from_rows"]}
    again = (await a.get("/v1/leaderboards/week")).json()
    assert [i["reduction_g"] for i in again["items"]] == [467, 120, 100]
    assert_problem(await a.get("/v1/leaderboards/year"), 422)
    assert_problem(await a.post("/v1/admin/leaderboards/rebuild"), 403)


async def test_every_credited_record_recomputes_to_the_same_grams(app, client):
    """An auditor's check: stored data + stored version parameters → the stored grams."""
    c = await citizen(client, region="CN-SX")
    await post(c, "transit.metro", {"distance_km": "12.37", "duration_min": 31}, at=ago(hours=5))
    await post(c, "transit.bus", {"distance_km": "7.9", "duration_min": 25}, at=ago(hours=4))
    await post(c, "cycling", {"distance_km": "4.44", "duration_min": 17}, at=ago(hours=3))
    await post(c, "walking", {"steps": 12_345}, at=ago(hours=2))
    await post(c, "walking", {"steps": 9_999}, at=ago(hours=1))
    async with session_scope(app.state.sessionmaker) as s:
        rows = (
            await s.execute(
                select(Record, MethodologyVersion)
                .join(MethodologyVersion, MethodologyVersion.id == Record.version_id)
                .where(Record.status == "credited")
            )
        ).all()
        assert len(rows) == 5
        for record, version in rows:
            m = registry.get(record.type)
            params = params_from_json(m, version.params)
            assert params_hash(params) == record.params_hash == version.params_hash
            again = m.evaluate(
                m.Input.model_validate(record.data),
                params,
                Context(region=record.region, trusted=record.source == "partner"),
            )
            assert again.reduction_g == record.reduction_g, record.id


async def test_equal_scores_share_a_rank_and_no_user_id_is_shown(app, client):
    first, second, third, fourth = [await citizen(client) for _ in range(4)]
    await post(first, "walking", {"steps": 9000}, at=ago())
    await post(second, "walking", {"steps": 5000}, at=ago())
    await post(third, "walking", {"steps": 5000}, at=ago())
    await post(fourth, "walking", {"steps": 2000}, at=ago())
    r = await fourth.get("/v1/leaderboards/day")
    board = r.json()
    assert [(i["rank"], i["reduction_g"]) for i in board["items"]] == [
        (1, 180),
        (2, 100),
        (2, 100),
        (4, 40),
    ]
    assert set(board["items"][0]) == {"rank", "display_name", "reduction_g", "is_me"}
    assert [i["is_me"] for i in board["items"]] == [False, False, False, True]
    assert (await third.get("/v1/leaderboards/day")).json()["me"]["rank"] == 2
    assert (await second.get("/v1/leaderboards/day")).json()["me"]["rank"] == 2
    top2 = (await third.get("/v1/leaderboards/day", params={"limit": 2})).json()
    assert [i["rank"] for i in top2["items"]] == [1, 2]
    assert top2["me"] == {"rank": 2, "reduction_g": 100}
    for user in (first, second, third, fourth):
        assert user.id not in r.text
