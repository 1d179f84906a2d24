"""User administration and the audit trail: who may change what, and every act is written."""

from __future__ import annotations

import asyncio

from tests.helpers import assert_problem, citizen, login, user_with_role


async def _audit(admin, **params) -> list[dict]:
    r = await admin.get("/v1/admin/audit", params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_role_change_is_applied_and_audited_with_before_and_after(app, client):
    admin = await user_with_role(app, client, "admin")
    someone = await citizen(client)
    r = await admin.patch(f"/v1/admin/users/{someone.id}", json={"role": "auditor"})
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "auditor" and r.json()["is_active"] is True
    # The token carried the old role: it is revoked at once, and a new sign-in has the new one.
    body = assert_problem(await someone.get("/v1/admin/audit"), 401, "unauthorized")
    assert body["reason"] == "token_revoked"
    token = (await login(client, someone.email)).json()["access_token"]
    r = await client.get("/v1/admin/audit", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200

    [entry] = await _audit(admin, action="user.updated", target_id=someone.id)
    assert entry["actor_id"] == admin.id and entry["actor_role"] == "admin"
    assert entry["target_type"] == "user"
    assert entry["before"] == {"role": "citizen", "is_active": True, "merchant_id": None}
    assert entry["after"] == {"role": "auditor", "is_active": True, "merchant_id": None}


async def test_merchant_role_needs_an_existing_merchant(app, client):
    admin = await user_with_role(app, client, "admin")
    someone = await citizen(client)
    url = f"/v1/admin/users/{someone.id}"
    body = assert_problem(await admin.patch(url, json={"role": "merchant"}), 422)
    assert body["errors"][0]["field"] == "merchant_id"
    assert_problem(
        await admin.patch(url, json={"role": "merchant", "merchant_id": "nope"}), 404, "not_found"
    )
    assert_problem(await admin.patch(url, json={"merchant_id": "x"}), 422, "validation_error")

    merchant = (await admin.post("/v1/admin/merchants", json={"name": "Green Shop"})).json()
    r = await admin.patch(url, json={"role": "merchant", "merchant_id": merchant["id"]})
    assert r.status_code == 200, r.text
    assert r.json()["merchant_id"] == merchant["id"]
    # Leaving the merchant role unbinds the account from the merchant.
    r = await admin.patch(url, json={"role": "citizen"})
    assert r.json()["role"] == "citizen" and r.json()["merchant_id"] is None
    assert len(await _audit(admin, action="user.updated", target_id=someone.id)) == 2


async def test_unknown_role_or_field_is_422_and_unknown_user_404(app, client):
    admin = await user_with_role(app, client, "admin")
    someone = await citizen(client)
    body = assert_problem(
        await admin.patch(f"/v1/admin/users/{someone.id}", json={"role": "root"}), 422
    )
    assert body["errors"][0]["field"] == "body.role"
    assert_problem(
        await admin.patch(f"/v1/admin/users/{someone.id}", json={"email": "x@y.cn"}), 422
    )
    assert_problem(
        await admin.patch("/v1/admin/users/no-such-user", json={"is_active": False}), 404
    )


async def test_admin_cannot_demote_or_disable_themselves(app, client):
    admin = await user_with_role(app, client, "admin")
    url = f"/v1/admin/users/{admin.id}"
    assert_problem(await admin.patch(url, json={"role": "citizen"}), 409, "self_change_refused")
    assert_problem(await admin.patch(url, json={"is_active": False}), 409, "self_change_refused")
    # Saying what is already true is allowed and changes (and audits) nothing.
    r = await admin.patch(url, json={"role": "admin", "is_active": True})
    assert r.status_code == 200
    assert await _audit(admin, action="user.updated") == []


async def test_two_admins_demoting_each_other_at_once_leave_one_admin(app, client):
    a = await user_with_role(app, client, "admin")
    b = await user_with_role(app, client, "admin")
    ra, rb = await asyncio.gather(
        a.patch(f"/v1/admin/users/{b.id}", json={"role": "citizen"}),
        b.patch(f"/v1/admin/users/{a.id}", json={"role": "citizen"}),
    )
    # Whoever commits first demotes the other, who is no longer an admin when its turn comes
    # (403), or whose token is already revoked by the demotion (401).
    codes = sorted([ra.status_code, rb.status_code])
    assert codes[0] == 200 and codes[1] in (401, 403), (ra.text, rb.text)
    winner = a if ra.status_code == 200 else b
    r = await winner.get("/v1/admin/users", params={"role": "admin"})
    assert [u["id"] for u in r.json()["items"]] == [winner.id]
    assert len(await _audit(winner, action="user.updated")) == 1


async def test_disabled_user_is_locked_out_at_once(app, client):
    admin = await user_with_role(app, client, "admin")
    someone = await citizen(client)
    r = await admin.patch(f"/v1/admin/users/{someone.id}", json={"is_active": False})
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert_problem(await someone.get("/v1/me"), 401)
    assert_problem(await login(client, someone.email), 401)
    r = await admin.patch(f"/v1/admin/users/{someone.id}", json={"is_active": True})
    assert r.status_code == 200
    # Re-enabling lets the citizen sign in again but does not revive the old tokens.
    body = assert_problem(await someone.get("/v1/me"), 401)
    assert body["reason"] == "token_revoked"
    r = await client.post("/v1/auth/refresh", json={"refresh_token": someone.refresh_token})
    assert_problem(r, 401)
    token = (await login(client, someone.email)).json()["access_token"]
    r = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200


async def test_users_list_filters_by_role_and_pages_newest_first(app, client):
    admin = await user_with_role(app, client, "admin")
    auditor = await user_with_role(app, client, "auditor")
    citizens = [await citizen(client) for _ in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"role": "citizen", "limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await auditor.get("/v1/admin/users", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= 2
        assert all(u["role"] == "citizen" for u in page["items"])
        seen += [u["id"] for u in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [c.id for c in reversed(citizens)]
    r = await admin.get("/v1/admin/users", params={"role": "admin"})
    assert [u["id"] for u in r.json()["items"]] == [admin.id]
    assert_problem(await admin.get("/v1/admin/users", params={"role": "king"}), 422)
    assert_problem(await admin.get("/v1/admin/users", params={"limit": 201}), 422)
    assert_problem(await admin.get("/v1/admin/users", params={"cursor": "!!"}), 400)


async def test_audit_is_newest_first_filtered_and_paged_by_seq(app, client):
    admin = await user_with_role(app, client, "admin")
    other_admin = await user_with_role(app, client, "admin")
    people = [await citizen(client) for _ in range(3)]
    for person in people:
        r = await admin.patch(f"/v1/admin/users/{person.id}", json={"is_active": False})
        assert r.status_code == 200
    r = await other_admin.post("/v1/admin/merchants", json={"name": "Shop"})
    assert r.status_code == 201

    everything = await _audit(admin)
    seqs = [e["seq"] for e in everything]
    assert seqs == sorted(seqs, reverse=True) and len(everything) == 4
    assert [e["target_id"] for e in await _audit(admin, action="user.updated")] == [
        p.id for p in reversed(people)
    ]
    assert len(await _audit(admin, actor_id=other_admin.id)) == 1
    assert len(await _audit(admin, target_type="user")) == 3
    assert await _audit(admin, target_type="user", actor_id=other_admin.id) == []
    first = everything[-1]["created_at"]
    assert len(await _audit(admin, **{"from": first})) == 4
    assert await _audit(admin, **{"to": first}) == []

    r = await admin.get("/v1/admin/audit", params={"limit": 3})
    page = r.json()
    assert [e["seq"] for e in page["items"]] == seqs[:3]
    r = await admin.get("/v1/admin/audit", params={"limit": 3, "cursor": page["next_cursor"]})
    assert [e["seq"] for e in r.json()["items"]] == seqs[3:]
    assert r.json()["next_cursor"] is None
    assert_problem(await admin.get("/v1/admin/audit", params={"from": "yesterday"}), 422)


async def test_citizens_and_merchants_get_403_on_admin_reads(app, client):
    someone = await citizen(client)
    for url in ("/v1/admin/audit", "/v1/admin/users", "/v1/admin/review"):
        assert_problem(await someone.get(url), 403, "forbidden")
        assert_problem(await client.get(url), 401)
