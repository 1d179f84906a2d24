"""Citizens' rights over their data: correct the profile, export everything, erase the identity
while every total, report and the ledger still reconcile."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.db import session_scope
from app.models import RefreshToken, User
from tests.helpers import PASSWORD, assert_problem, citizen, login, user_with_role
from tests.records.helpers import ago, post
from tests.records.test_partner_links import make_partner
from tests.redemptions.helpers import open_shop, publish, redeem

METRO = {"distance_km": 10, "duration_min": 20}


async def test_profile_changes_only_what_is_sent(client):
    alice = await citizen(client, region="CN-SX")
    r = await alice.patch("/v1/me", json={"display_name": "  Li   Wei "})
    assert r.status_code == 200, r.text
    assert r.json()["display_name"] == "Li Wei" and r.json()["region"] == "CN-SX"
    r = await alice.patch("/v1/me", json={"region": "CN-GD", "display_name": None})
    assert r.json()["region"] == "CN-GD" and r.json()["display_name"] is None
    assert (await alice.get("/v1/me")).json()["region"] == "CN-GD"
    for bad in ({"region": "Guangdong"}, {"email": "x@example.cn"}, {"display_name": "x" * 101}):
        assert_problem(await alice.patch("/v1/me", json=bad), 422, "validation_error")
    assert (await alice.get("/v1/me")).json()["region"] == "CN-GD"


async def test_export_holds_profile_records_ledger_lines_and_redemptions(app, client):
    alice = await citizen(client, region="CN-SX")
    for hours in (3, 2):
        assert (await post(alice, "transit.metro", METRO, at=ago(hours=hours))).status_code == 201
    shop = await open_shop(app, client)
    incentive = await publish(shop.staff, points_cost=100)
    assert (await redeem(alice, incentive["id"])).status_code == 201
    key, _secret = await make_partner(app, client)
    made = await alice.post("/v1/me/links", json={"partner_key": key, "external_ref": "card-7"})
    assert made.status_code == 201, made.text

    r = await alice.get("/v1/me/export")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["profile"]["id"] == alice.id and doc["profile"]["email"] == alice.email
    [link] = doc["links"]
    assert (link["partner_key"], link["external_ref"], link["status"]) == (key, "card-7", "pending")
    assert len(doc["records"]) == 2 and all("breakdown" in rec for rec in doc["records"])
    kinds = [line["kind"] for line in doc["ledger_lines"]]
    assert kinds.count("credit") == 2 and "hold" in kinds
    assert sum(line["points"] for line in doc["ledger_lines"] if line["account"] == "held") == 100
    [redemption] = doc["redemptions"]
    assert redemption["points"] == 100 and redemption["status"] == "issued"
    # Every time in it is UTC with Z, as everywhere else.
    times = [doc["exported_at"], doc["profile"]["created_at"], doc["records"][0]["occurred_at"]]
    times += [line["created_at"] for line in doc["ledger_lines"]]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", t) for t in times), times
    # Only the caller's own data.
    bob = await citizen(client)
    other = (await bob.get("/v1/me/export")).json()
    assert other["records"] == [] and other["ledger_lines"] == [] and other["redemptions"] == []


async def _totals(admin, window: dict) -> tuple[dict, dict, dict]:
    by_region = (
        await admin.get("/v1/admin/reports/reductions", params={**window, "group_by": "region"})
    ).json()
    by_method = (
        await admin.get(
            "/v1/admin/reports/reductions", params={**window, "group_by": "methodology"}
        )
    ).json()
    check = (await admin.get("/v1/admin/ledger/check")).json()
    assert check["ok"] is True, check
    return by_region, by_method, check


async def test_erasure_removes_the_identity_and_keeps_every_total(app, client):
    admin = await user_with_role(app, client, "admin")
    alice = await citizen(client, region="CN-SX")
    bob = await citizen(client, region="CN-GD")
    for who, hours in ((alice, 3), (alice, 2), (bob, 1)):
        assert (await post(who, "transit.metro", METRO, at=ago(hours=hours))).status_code == 201
    phone = (await login(client, alice.email)).json()
    window = {"from": ago(days=2), "to": ago(seconds=-600)}
    before = await _totals(admin, window)

    r = await client.request(
        "DELETE", "/v1/me", json={"password": "Not-my-password-1"}, headers=alice.headers
    )
    assert assert_problem(r, 403)["reason"] == "invalid_credentials"
    assert (await alice.get("/v1/me")).status_code == 200

    r = await client.request("DELETE", "/v1/me", json={"password": PASSWORD}, headers=alice.headers)
    assert r.status_code == 204, r.text

    assert await _totals(admin, window) == before
    for token in (alice.token, phone["access_token"]):
        r = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert assert_problem(r, 401)["reason"] == "token_revoked"
    for refresh in (alice.refresh_token, phone["refresh_token"]):
        assert_problem(await client.post("/v1/auth/refresh", json={"refresh_token": refresh}), 401)
    assert_problem(await login(client, alice.email), 401)

    async with session_scope(app.state.sessionmaker) as s:
        row = await s.get(User, alice.id)
        assert row is not None and row.deleted_at is not None and not row.is_active
        assert alice.email.split("@")[0] not in row.email and "@" not in row.email
        assert row.display_name is None and row.region is None
        tokens = await s.scalars(select(RefreshToken).where(RefreshToken.user_id == alice.id))
        assert tokens.all() == []

    # The email is free again, for a new account that starts from nothing.
    r = await client.post("/v1/auth/register", json={"email": alice.email, "password": PASSWORD})
    assert r.status_code == 201 and r.json()["id"] != alice.id
    token = (await login(client, alice.email)).json()["access_token"]
    account = await client.get("/v1/account", headers={"Authorization": f"Bearer {token}"})
    assert account.json()["balance"] == 0
    assert (await bob.get("/v1/account")).json()["lifetime_reduction_g"] == 467


async def test_only_citizens_erase_themselves_and_the_password_is_required(app, client):
    admin = await user_with_role(app, client, "admin")
    r = await client.request("DELETE", "/v1/me", json={"password": PASSWORD}, headers=admin.headers)
    assert_problem(r, 403)
    alice = await citizen(client)
    r = await client.request("DELETE", "/v1/me", json={}, headers=alice.headers)
    assert_problem(r, 422, "validation_error")
    assert (await alice.get("/v1/me")).status_code == 200
