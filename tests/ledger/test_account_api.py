from __future__ import annotations

from datetime import timedelta

from app.db import session_scope, utcnow
from app.services import ledger
from app.services.ledger.expiry import run_expiry
from tests.helpers import assert_problem, citizen, user_with_role
from tests.ledger.test_ledger import give, run


async def test_account_shows_balance_held_and_what_expires_next(app, client):
    user = await citizen(client)
    await give(app, user.id, 100, days=10)
    await give(app, user.id, 50, days=400)
    await run(
        app,
        ledger.hold,
        user_id=user.id,
        points=30,
        ref="h",
        cause_type="redemption",
        cause_id=None,
    )
    body = (await user.get("/v1/account")).json()
    assert body["balance"] == 120 and body["held"] == 30 and body["lifetime_points"] == 150
    assert [e["points"] for e in body["expiring"]] == [70, 50]


async def test_transactions_are_paginated_newest_first_with_balance_after(app, client):
    user = await citizen(client)
    for points in (10, 20, 30):
        await give(app, user.id, points)
    r = await user.get("/v1/account/transactions", params={"limit": 2})
    page = r.json()
    assert [i["points"] for i in page["items"]] == [30, 20]
    assert [i["balance_after"] for i in page["items"]] == [60, 30]
    r = await user.get("/v1/account/transactions", params={"cursor": page["next_cursor"]})
    rest = r.json()
    assert [i["balance_after"] for i in rest["items"]] == [10] and rest["next_cursor"] is None
    assert_problem(await user.get("/v1/account/transactions", params={"cursor": "@@"}), 400)
    assert_problem(await user.get("/v1/account/transactions", params={"limit": 500}), 422)


async def test_account_is_private_to_citizens(app, client):
    admin = await user_with_role(app, client, "admin")
    assert_problem(await admin.get("/v1/account"), 403, "forbidden")
    assert_problem(await client.get("/v1/account"), 401)


async def test_ledger_check_endpoint_for_admin_and_auditor_only(app, client):
    user = await citizen(client)
    await give(app, user.id, 5)
    for role in ("admin", "auditor"):
        actor = await user_with_role(app, client, role)
        body = (await actor.get("/v1/admin/ledger/check")).json()
        assert body["ok"] is True and body["accounts_checked"] >= 2
    assert_problem(await user.get("/v1/admin/ledger/check"), 403)


async def test_expire_points_job_is_idempotent(app, client):
    user = await citizen(client)
    await give(app, user.id, 40, days=-2)
    await give(app, user.id, 25, days=30)
    settings = app.state.settings
    first = await run_expiry(settings, progress=False)
    second = await run_expiry(settings, progress=False)
    assert first["points_expired"] == 40 and second["points_expired"] == 0
    async with session_scope(app.state.sessionmaker) as s:
        assert await ledger.spendable(s, user.id, utcnow() + timedelta(seconds=1)) == 25
