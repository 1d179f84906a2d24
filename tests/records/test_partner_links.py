"""Partner links: a citizen's external reference resolves only after the partner confirmed
it, and nobody can have another citizen's partner records credited to them."""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlalchemy import update

from app.db import session_scope, utcnow
from app.models import UserLink
from tests.helpers import Actor, assert_problem, citizen, user_with_role
from tests.records.helpers import ago, event, signed_post

METRO = {"distance_km": 2, "duration_min": 5}
METRO_G = 93
_slots = itertools.count()


async def make_partner(app, client, **extra) -> tuple[str, str]:
    admin = await user_with_role(app, client, "admin")
    body = {"name": "Taiyuan Metro", "allowed_types": ["transit.metro"], **extra}
    r = await admin.post("/v1/admin/partners", json=body)
    assert r.status_code == 201, r.text
    return r.json()["key_id"], r.json()["secret"]


async def confirm(client, key: str, secret: str, ref: str, code: str):
    return await signed_post(
        client,
        key,
        secret,
        {"external_ref": ref, "confirmation_code": code},
        path="/v1/partner/links/confirm",
    )


async def metro_for(client, key: str, secret: str, user_ref: str) -> dict:
    # Rides seven minutes apart, so no two of one citizen overlap.
    at = ago(minutes=5 + 7 * (next(_slots) % 100))
    item = {"user_ref": user_ref, **event("transit.metro", METRO, at=at)}
    r = await signed_post(client, key, secret, {"events": [item]})
    assert r.status_code == 200, r.text
    return r.json()["results"][0]


async def balance(actor: Actor) -> int:
    return (await actor.get("/v1/account")).json()["balance"]


async def linked(client, key: str, secret: str, actor: Actor, ref: str) -> dict:
    """A link the partner confirmed, the way a citizen gets one."""
    r = await actor.post("/v1/me/links", json={"partner_key": key, "external_ref": ref})
    assert r.status_code == 201, r.text
    r = await confirm(client, key, secret, ref, r.json()["confirmation_code"])
    assert r.status_code == 200, r.text
    return r.json()


async def test_the_victims_user_id_cannot_be_linked_in_any_spelling(app, client):
    key, secret = await make_partner(app, client, link_confirmation="none")
    victim, attacker = await citizen(client), await citizen(client)
    spellings = [
        victim.id,
        victim.id.upper(),
        f"  {victim.id} ",
        victim.id.replace("-", ""),
        "{" + victim.id + "}",
        "urn:uuid:" + victim.id,
    ]
    for ref in spellings:
        r = await attacker.post("/v1/me/links", json={"partner_key": key, "external_ref": ref})
        body = assert_problem(r, 422, "validation_error")
        assert body["reason"] == "ref_is_user_id", ref
    assert (await attacker.get("/v1/me/links")).json()["items"] == []
    for ref in spellings:
        assert (await metro_for(client, key, secret, ref))["status"] == "credited"
    assert await balance(victim) == METRO_G * len(spellings)
    assert await balance(attacker) == 0


async def test_a_pending_unconfirmed_link_resolves_nothing(app, client):
    key, secret = await make_partner(app, client)
    attacker = await citizen(client)
    r = await attacker.post("/v1/me/links", json={"partner_key": key, "external_ref": "card-77"})
    assert r.status_code == 201, r.text
    link = r.json()
    assert link["status"] == "pending" and len(link["confirmation_code"]) >= 8
    listed = (await attacker.get("/v1/me/links")).json()["items"]
    assert [(x["status"], x.get("confirmation_code")) for x in listed] == [("pending", None)]
    result = await metro_for(client, key, secret, "card-77")
    assert result["status"] == "invalid" and result["error"]["code"] == "unknown_user"
    assert await balance(attacker) == 0


async def test_a_confirmed_link_whose_ref_is_a_user_id_never_outranks_that_user(app, client):
    """Links stored before refs were checked (or written behind the service's back) cannot
    take a citizen's records: a user id always means that user."""
    key, secret = await make_partner(app, client)
    victim, attacker = await citizen(client), await citizen(client)
    await linked(client, key, secret, attacker, "card-1")
    async with session_scope(app.state.sessionmaker) as session:
        await session.execute(
            update(UserLink)
            .where(UserLink.user_id == attacker.id)
            .values(external_ref=victim.id, status="active")
        )
    assert (await metro_for(client, key, secret, victim.id))["status"] == "credited"
    assert (await metro_for(client, key, secret, victim.id.upper()))["status"] == "credited"
    assert await balance(victim) == 2 * METRO_G
    assert await balance(attacker) == 0


async def test_someone_elses_card_can_be_claimed_but_never_confirmed(app, client):
    key, secret = await make_partner(app, client, refs_case_sensitive=False)
    owner, attacker = await citizen(client), await citizen(client)
    # The attacker claims the card first: that blocks nobody.
    r = await attacker.post("/v1/me/links", json={"partner_key": key, "external_ref": " CARD-9 "})
    assert r.status_code == 201 and r.json()["external_ref"] == "card-9"
    await linked(client, key, secret, owner, "Card-9")
    body = assert_problem(
        await confirm(client, key, secret, "card-9", r.json()["confirmation_code"]), 409
    )
    assert body["reason"] == "ref_taken"
    again = await attacker.post("/v1/me/links", json={"partner_key": key, "external_ref": "card-9"})
    assert assert_problem(again, 409)["reason"] == "ref_taken"
    assert (await metro_for(client, key, secret, "  CARD-9"))["status"] == "credited"
    assert await balance(owner) == METRO_G
    assert await balance(attacker) == 0


async def test_confirmation_code_is_one_time_and_expires_after_ten_minutes(app, client):
    key, secret = await make_partner(app, client)
    c = await citizen(client)
    r = await c.post("/v1/me/links", json={"partner_key": key, "external_ref": "card-5"})
    code = r.json()["confirmation_code"]
    wrong = await confirm(client, key, secret, "card-5", "ABCD-EFGH")
    assert assert_problem(wrong, 409)["reason"] == "code_invalid"
    assert assert_problem(await confirm(client, key, secret, "card-6", code), 409)
    async with session_scope(app.state.sessionmaker) as session:
        await session.execute(
            update(UserLink).values(confirmation_expires_at=utcnow() - timedelta(seconds=1))
        )
    late = await confirm(client, key, secret, "card-5", code)
    assert assert_problem(late, 409)["reason"] == "code_expired"
    assert (await metro_for(client, key, secret, "card-5"))["status"] == "invalid"

    again = await c.post("/v1/me/links", json={"partner_key": key, "external_ref": "card-5"})
    assert again.status_code == 201, again.text
    ok = await confirm(client, key, secret, "card-5", again.json()["confirmation_code"])
    assert ok.status_code == 200 and ok.json()["status"] == "active", ok.text
    assert ok.json()["confirmation_code"] is None
    reused = await confirm(client, key, secret, "card-5", again.json()["confirmation_code"])
    assert_problem(reused, 409)
    assert (await metro_for(client, key, secret, "card-5"))["status"] == "credited"
    assert await balance(c) == METRO_G


async def test_confirmation_is_signed_like_partner_events(app, client):
    key, secret = await make_partner(app, client)
    other_key, other_secret = await make_partner(app, client)
    c = await citizen(client)
    r = await c.post("/v1/me/links", json={"partner_key": key, "external_ref": "card-8"})
    code = r.json()["confirmation_code"]
    body = {"external_ref": "card-8", "confirmation_code": code}
    assert_problem(await client.post("/v1/partner/links/confirm", json=body), 401)
    assert_problem(await confirm(client, key, "0" * 64, "card-8", code), 401)
    # Another partner cannot confirm this partner's links.
    assert_problem(await confirm(client, other_key, other_secret, "card-8", code), 409)
    assert (await confirm(client, key, secret, "card-8", code)).status_code == 200


async def test_unlink_limits_and_the_none_partner(app, client):
    key, secret = await make_partner(app, client, link_confirmation="none")
    c, other = await citizen(client), await citizen(client)
    ids = []
    for i in range(3):
        r = await c.post("/v1/me/links", json={"partner_key": key, "external_ref": f"m-{i}"})
        assert r.status_code == 201 and r.json()["status"] == "active", r.text
        assert r.json()["confirmation_code"] is None
        ids.append(r.json()["id"])
    fourth = await c.post("/v1/me/links", json={"partner_key": key, "external_ref": "m-9"})
    assert assert_problem(fourth, 409)["reason"] == "link_limit"
    taken = await other.post("/v1/me/links", json={"partner_key": key, "external_ref": "m-0"})
    assert assert_problem(taken, 409)["reason"] == "ref_taken"
    assert_problem(await other.delete(f"/v1/me/links/{ids[0]}"), 404)
    assert (await metro_for(client, key, secret, "m-0"))["status"] == "credited"

    assert (await c.delete(f"/v1/me/links/{ids[0]}")).status_code == 204
    assert_problem(await c.delete(f"/v1/me/links/{ids[0]}"), 404)
    assert (await metro_for(client, key, secret, "m-0"))["status"] == "invalid"
    assert len((await c.get("/v1/me/links")).json()["items"]) == 2
    r = await other.post("/v1/me/links", json={"partner_key": key, "external_ref": "m-0"})
    assert r.status_code == 201, r.text
    r = await c.post("/v1/me/links", json={"partner_key": key, "external_ref": "m-9"})
    assert r.status_code == 201, r.text
    assert await balance(c) == METRO_G


async def test_case_sensitive_refs_are_kept_apart_and_blank_refs_refused(app, client):
    key, secret = await make_partner(app, client, link_confirmation="none")
    a, b = await citizen(client), await citizen(client)
    ra = await a.post("/v1/me/links", json={"partner_key": key, "external_ref": " Ab-1 "})
    assert ra.json()["external_ref"] == "Ab-1"
    rb = await b.post("/v1/me/links", json={"partner_key": key, "external_ref": "ab-1"})
    assert rb.status_code == 201, rb.text
    blank = await a.post("/v1/me/links", json={"partner_key": key, "external_ref": "   "})
    assert_problem(blank, 422, "validation_error")
    assert (await metro_for(client, key, secret, "Ab-1 "))["status"] == "credited"
    assert await balance(a) == METRO_G and await balance(b) == 0


async def test_partner_records_obey_the_same_plausibility_bounds_as_app_records(app, client):
    key, secret = await make_partner(app, client)
    c = await citizen(client)
    fast = {"distance_km": 90, "duration_min": 20}  # 270 km/h on a metro
    r = await signed_post(
        client, key, secret, {"events": [{"user_ref": c.id, **event("transit.metro", fast)}]}
    )
    result = r.json()["results"][0]
    assert result["status"] == "rejected" and "implausible_speed" in result["reasons"]
    assert await balance(c) == 0
