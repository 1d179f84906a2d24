"""Donations to public-good projects: whole units, points through the ledger, one donation per
Idempotency-Key, a certificate, progress for everyone signed in."""

from __future__ import annotations

import asyncio
import uuid

from tests.helpers import assert_problem, citizen, user_with_role
from tests.records.helpers import post
from tests.redemptions.helpers import balance, give_points, ledger_is_clean

TREES = {
    "name": "Plant a tree on the Lüliang hills",
    "description": "Each unit plants and tends one tree for three years.",
    "points_per_unit": 500,
    "unit_name": "tree",
    "target_units": 10,
}


async def project(admin, **fields) -> dict:
    r = await admin.post("/v1/admin/projects", json={**TREES, **fields})
    assert r.status_code == 201, r.text
    return r.json()


async def donate(actor, project_id: str, units: int, key: str | None = None):
    return await actor.post(
        "/v1/donations",
        json={"project_id": project_id, "units": units},
        headers={"Idempotency-Key": key or str(uuid.uuid4())},
    )


async def test_two_trees_move_exactly_their_points_and_return_a_certificate(app, client):
    admin = await user_with_role(app, client, "admin")
    trees = await project(admin)
    c = await citizen(client)
    await give_points(app, c.id, 1200)
    r = await donate(c, trees["id"], 2)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["units"], body["points"]) == (2, 1000)
    assert body["certificate"].startswith("TH-") and len(body["certificate"]) == 20
    assert (await balance(c))["balance"] == 200
    listed = (await c.get("/v1/projects")).json()["items"]
    assert (listed[0]["donated_units"], listed[0]["donated_points"], listed[0]["progress"]) == (
        2,
        1000,
        0.2,
    )
    mine = (await c.get("/v1/donations")).json()["items"]
    assert [d["certificate"] for d in mine] == [body["certificate"]]
    other = await citizen(client)
    assert (await other.get("/v1/donations")).json()["items"] == []
    await ledger_is_clean(admin)


async def test_the_same_key_twice_at_once_is_one_donation(app, client):
    admin = await user_with_role(app, client, "admin")
    trees = await project(admin)
    c = await citizen(client)
    await give_points(app, c.id, 5000)
    key = str(uuid.uuid4())
    answers = await asyncio.gather(*(donate(c, trees["id"], 2, key) for _ in range(5)))
    assert sorted(r.status_code for r in answers) == [200, 200, 200, 200, 201]
    assert len({r.json()["certificate"] for r in answers}) == 1
    assert (await balance(c))["balance"] == 4000
    assert_problem(await donate(c, trees["id"], 3, key), 409, "idempotency_conflict")
    assert len((await c.get("/v1/donations")).json()["items"]) == 1


async def test_donations_need_points_an_open_project_and_room_under_the_target(app, client):
    admin = await user_with_role(app, client, "admin")
    trees = await project(admin, target_units=3)
    c = await citizen(client)
    await give_points(app, c.id, 1400)
    assert_problem(await donate(c, trees["id"], 3), 409, "insufficient_points")
    assert_problem(await donate(c, trees["id"], 4), 409, "target_reached")
    assert_problem(await donate(c, str(uuid.uuid4()), 1), 404)
    assert_problem(await donate(c, trees["id"], 0), 422)
    assert (await donate(c, trees["id"], 2)).status_code == 201
    rich = await citizen(client)
    await give_points(app, rich.id, 5000)
    raced = await asyncio.gather(*(donate(rich, trees["id"], 1) for _ in range(3)))
    assert sorted(r.status_code for r in raced) == [201, 409, 409]
    assert (await balance(rich))["balance"] == 4500
    assert_problem(
        await admin.post(
            "/v1/donations",
            json={"project_id": trees["id"], "units": 1},
            headers={"Idempotency-Key": "k"},
        ),
        403,
    )
    assert_problem(await c.post("/v1/admin/projects", json=TREES), 403)
    url = f"/v1/admin/projects/{trees['id']}"
    assert_problem(await c.patch(url, json={"active": False}), 403)
    closed = await admin.patch(url, json={"active": False})
    assert closed.status_code == 200 and closed.json()["active"] is False
    assert_problem(await donate(rich, trees["id"], 1), 409, "project_closed")


async def test_a_reversal_after_a_donation_books_debt_and_leaves_the_project_whole(app, client):
    admin = await user_with_role(app, client, "admin")
    trees = await project(admin, points_per_unit=400)
    c = await citizen(client)
    ride = (await post(c, "transit.metro", {"distance_km": 10, "duration_min": 20})).json()
    assert ride["points"] == 467
    assert (await donate(c, trees["id"], 1)).status_code == 201
    r = await admin.post(f"/v1/admin/events/{ride['id']}/reverse", json={"reason": "spoofed"})
    assert r.status_code == 200, r.text
    account = await balance(c)
    assert (account["balance"], account["debt"]) == (0, 400)
    assert (await c.get("/v1/projects")).json()["items"][0]["donated_points"] == 400
    await ledger_is_clean(admin)


async def test_citizens_racing_for_the_last_units_never_overshoot_the_target(app, client):
    """Many citizens at once, each on their own shard of the project's account: the project
    row's conditional update still lets exactly the target through."""
    from sqlalchemy import select

    from app.db import session_scope
    from app.models import Account
    from app.services import ledger

    admin = await user_with_role(app, client, "admin")
    trees = await project(admin, target_units=5)
    people = [await citizen(client) for _ in range(8)]
    for person in people:
        await give_points(app, person.id, 500)
    answers = await asyncio.gather(*(donate(p, trees["id"], 1) for p in people))
    assert sorted(r.status_code for r in answers) == [201] * 5 + [409] * 3
    for person, r in zip(people, answers, strict=True):
        if r.status_code == 409:
            assert r.json()["code"] == "target_reached"
        assert (await balance(person))["balance"] == (0 if r.status_code == 201 else 500)
    [listed] = [p for p in (await admin.get("/v1/projects")).json()["items"]]
    assert (listed["donated_units"], listed["donated_points"]) == (5, 2500)
    winners = [p for p, r in zip(people, answers, strict=True) if r.status_code == 201]
    async with session_scope(app.state.sessionmaker) as s:
        rows = (
            await s.execute(
                select(Account.id, Account.balance).where(Account.owner_id == trees["id"])
            )
        ).all()
    # The points sit on the winners' own shards of the project's account, and add up.
    assert {account for account, _ in rows} == {
        ledger.project_account(trees["id"], p.id) for p in winners
    }
    assert sum(b for _, b in rows) == 2500
    await ledger_is_clean(admin)
