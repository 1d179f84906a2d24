"""Labelled purchases: the catalogue, the member code shown at a till, and the till's post
that credits the citizen through the ordinary record path."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from tests.communities.helpers import join, member_code, organisation, product, ring_up
from tests.helpers import assert_problem, citizen, user_with_role
from tests.records.helpers import event, post, signed_post
from tests.redemptions.helpers import open_shop


async def test_a_till_credits_the_citizen_who_showed_a_member_code(app, client):
    shop = await open_shop(app, client)
    milk = await product(shop.admin)
    c = await citizen(client)
    code = await member_code(c)
    r = await ring_up(shop.staff, code, [(milk["id"], 2)])
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["reduction_g"], body["points"]) == (700, 700)
    [record] = body["records"]
    assert (record["type"], record["status"], record["source"]) == (
        "purchase.labelled_product",
        "credited",
        "merchant",
    )
    detail = (await c.get(f"/v1/events/{record['id']}")).json()
    assert detail["breakdown"]["label_id"] == milk["label_id"]
    assert detail["breakdown"]["certifier"] == "Example Certification Centre"
    assert detail["breakdown"]["source"] == milk["source"]
    assert (await c.get("/v1/account")).json()["balance"] == 700


async def test_the_catalogue_lists_products_in_force(app, client):
    admin = await user_with_role(app, client, "admin")
    now = datetime.now(UTC)
    live = await product(admin, name="Live")
    await product(admin, name="Past", valid_until=(now - timedelta(days=1)).isoformat())
    await product(admin, name="Future", valid_from=(now + timedelta(days=1)).isoformat())
    c = await citizen(client)
    items = (await c.get("/v1/products")).json()["items"]
    assert [(p["id"], p["in_force"]) for p in items] == [(live["id"], True)]
    assert_problem(await c.post("/v1/admin/products", json={"name": "x"}), 403)
    again = {**{k: live[k] for k in ("name", "label_id", "certifier", "source")}}
    assert_problem(
        await admin.post("/v1/admin/products", json={**again, "reduction_g_per_unit": "1"}), 409
    )
    assert_problem(
        await admin.post(
            "/v1/admin/products",
            json={**again, "label_id": "x", "reduction_g_per_unit": "-1"},
        ),
        422,
    )


async def test_a_member_code_works_once_and_only_for_two_minutes(app, client):
    shop = await open_shop(app, client)
    milk = await product(shop.admin)
    c = await citizen(client)
    code = await member_code(c)
    assert (await ring_up(shop.staff, code, [(milk["id"], 1)])).status_code == 201
    used = assert_problem(await ring_up(shop.staff, code, [(milk["id"], 1)]), 409)
    assert (used["code"], used["reason"]) == ("member_code_refused", "code_used")
    unknown = assert_problem(await ring_up(shop.staff, "1" * 16, [(milk["id"], 1)]), 409)
    assert unknown["reason"] == "code_unknown"
    assert_problem(await ring_up(shop.staff, "not a code", [(milk["id"], 1)]), 409)
    stale = await member_code(c)
    from sqlalchemy import update

    from app.db import session_scope
    from app.models import MemberCode

    async with session_scope(app.state.sessionmaker) as s:
        await s.execute(
            update(MemberCode)
            .where(MemberCode.used_at.is_(None))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    expired = assert_problem(await ring_up(shop.staff, stale, [(milk["id"], 1)]), 409)
    assert expired["reason"] == "code_expired"
    assert (await c.get("/v1/account")).json()["balance"] == 350


async def test_a_member_code_used_at_two_tills_at_once_credits_once(app, client):
    shop = await open_shop(app, client)
    other = await open_shop(app, client, name="Other shop")
    milk = await product(shop.admin)
    c = await citizen(client)
    for _ in range(3):
        code = await member_code(c)
        answers = await asyncio.gather(
            *(
                ring_up(staff, code, [(milk["id"], 1)])
                for staff in (shop.staff, other.staff, shop.staff, other.staff)
            )
        )
        assert sorted(r.status_code for r in answers) == [201, 409, 409, 409]
    assert (await c.get("/v1/account")).json()["balance"] == 3 * 350


async def test_a_purchase_is_idempotent_per_merchant_and_client_event_id(app, client):
    shop = await open_shop(app, client)
    other = await open_shop(app, client, name="Other shop")
    milk = await product(shop.admin)
    c = await citizen(client)
    code = await member_code(c)
    cid = "till-07:000153"
    first = await ring_up(shop.staff, code, [(milk["id"], 2)], cid=cid)
    assert first.status_code == 201
    raced = await asyncio.gather(
        *(ring_up(shop.staff, code, [(milk["id"], 2)], cid=cid) for _ in range(3))
    )
    assert all(r.status_code == 200 and r.json() == first.json() for r in raced)
    fresh = await member_code(c)
    together = await asyncio.gather(
        *(ring_up(shop.staff, fresh, [(milk["id"], 1)], cid="till-07:000154") for _ in range(3))
    )
    assert sorted(r.status_code for r in together) == [200, 200, 201]
    assert len({r.json()["id"] for r in together}) == 1
    changed = await ring_up(shop.staff, code, [(milk["id"], 3)], cid=cid)
    assert_problem(changed, 409, "idempotency_conflict")
    # Another merchant's till may use the same id for its own purchase.
    assert (
        await ring_up(other.staff, await member_code(c), [(milk["id"], 1)], cid=cid)
    ).status_code == 201
    assert (await c.get("/v1/account")).json()["balance"] == 700 + 350 + 350


async def test_items_must_name_products_in_force_and_refusals_leave_the_code_usable(app, client):
    shop = await open_shop(app, client)
    milk = await product(shop.admin)
    past = await product(
        shop.admin, valid_until=(datetime.now(UTC) - timedelta(days=1)).isoformat()
    )
    c = await citizen(client)
    code = await member_code(c)
    for items in ([(past["id"], 1)], [(str(uuid.uuid4()), 1)], [(milk["id"], 1), (milk["id"], 2)]):
        assert_problem(await ring_up(shop.staff, code, items), 422)
    over = (await ring_up(shop.staff, code, [(milk["id"], 51)])).json()
    assert over["records"][0]["reasons"] == ["implausible_amount"]
    assert over["points"] == 0


async def test_only_active_merchant_staff_post_purchases(app, client):
    shop = await open_shop(app, client)
    milk = await product(shop.admin)
    c = await citizen(client)
    code = await member_code(c)
    assert_problem(await ring_up(c, code, [(milk["id"], 1)]), 403)
    assert_problem(await ring_up(shop.admin, code, [(milk["id"], 1)]), 403)
    r = await shop.admin.patch(f"/v1/admin/merchants/{shop.merchant_id}", json={"active": False})
    assert r.status_code == 200, r.text
    assert_problem(await ring_up(shop.staff, code, [(milk["id"], 1)]), 403)
    assert_problem(await shop.staff.get("/v1/me/member-code"), 403)


async def test_a_self_reported_purchase_waits_for_review(app, client):
    admin = await user_with_role(app, client, "admin")
    milk = await product(admin)
    c = await citizen(client)
    r = await post(c, "purchase.labelled_product", {"product_id": milk["id"], "quantity": 1})
    assert (r.json()["status"], r.json()["reasons"]) == ("pending_review", ["needs_review"])
    unknown = await post(c, "purchase.labelled_product", {"product_id": "nope", "quantity": 1})
    assert (unknown.json()["status"], unknown.json()["reasons"]) == (
        "rejected",
        ["product_not_valid"],
    )


async def test_a_retail_chain_sends_purchases_as_a_signed_partner(app, client):
    admin = await user_with_role(app, client, "admin")
    milk = await product(admin)
    r = await admin.post(
        "/v1/admin/partners",
        json={"name": "Meijia Supermarkets", "allowed_types": ["purchase.labelled_product"]},
    )
    key, secret = r.json()["key_id"], r.json()["secret"]
    c = await citizen(client)
    body = {
        "events": [
            {
                "user_ref": c.id,
                **event("purchase.labelled_product", {"product_id": milk["id"], "quantity": 3}),
            }
        ]
    }
    answer = await signed_post(client, key, secret, body)
    assert answer.status_code == 200, answer.text
    [result] = answer.json()["results"]
    assert (result["status"], result["reduction_g"]) == ("credited", 1050)


async def test_a_members_purchase_counts_for_the_organisation(app, client):
    shop = await open_shop(app, client)
    milk = await product(shop.admin)
    org = await organisation(shop.admin)
    c = await citizen(client)
    await join(c, org["join_code"])
    await asyncio.sleep(0.01)
    assert (await ring_up(shop.staff, await member_code(c), [(milk["id"], 2)])).status_code == 201
    stats = (await c.get(f"/v1/organisations/{org['id']}/stats")).json()
    assert stats["periods"][-1]["by_methodology"] == [
        {"code": "purchase.labelled_product", "records": 1, "reduction_g": 700, "points": 700}
    ]
    board = (await c.get("/v1/leaderboards/organisations/day")).json()
    assert board["items"][0]["organisation"]["id"] == org["id"]


async def test_a_simulation_of_purchases_reads_the_label_values_from_the_catalogue(app, client):
    shop = await open_shop(app, client)
    milk = await product(shop.admin)
    c = await citizen(client)
    start = datetime.now(UTC) - timedelta(minutes=5)
    assert (await ring_up(shop.staff, await member_code(c), [(milk["id"], 2)])).status_code == 201
    body = {
        "params": {"daily_cap_points": 500},
        "from": start.isoformat(),
        "to": (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
    }
    r = await shop.admin.post(
        "/v1/admin/methodologies/purchase.labelled_product/simulate", json=body
    )
    assert r.status_code == 200, r.text
    sim = r.json()
    assert (sim["current"]["reduction_g"], sim["current"]["points"]) == (700, 700)
    assert (sim["proposed"]["reduction_g"], sim["proposed"]["points"]) == (700, 500)
    assert sim["proposed"]["credited"] == 1


async def test_issuing_a_member_code_sweeps_the_citizens_codes_expired_a_day_ago(app, client):
    from sqlalchemy import func, select, update

    from app.db import session_scope
    from app.models import MemberCode

    c = await citizen(client)
    await member_code(c)
    await member_code(c)
    async with session_scope(app.state.sessionmaker) as s:
        await s.execute(update(MemberCode).values(expires_at=datetime.now(UTC) - timedelta(days=2)))
    await member_code(c)
    async with session_scope(app.state.sessionmaker) as s:
        left = await s.scalar(select(func.count()).select_from(MemberCode))
    assert left == 1
