"""Codes are unguessable, easy to read aloud, and useless to whoever reads the database;
the demo seed can be rerun."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import func, select

from app.db import session_scope
from app.kit.errors import InvalidState
from app.models import Incentive, Merchant, Redemption, User
from app.services.rewards import codes
from app.services.rewards.demo import DEMO_PASSWORD, seed_demo
from tests.helpers import citizen, login
from tests.redemptions.helpers import give_points, open_shop, publish, redeem

SECRET = "s" * 40
CODE_BITS = codes.CODE_LENGTH * math.log2(len(codes.ALPHABET))


def test_codes_carry_enough_entropy_without_look_alikes():
    assert CODE_BITS >= 50
    assert not set("0O1ILU") & set(codes.ALPHABET)
    drawn = {codes.new_code() for _ in range(2000)}
    assert len(drawn) == 2000
    assert all(len(c) == 12 and set(c) <= set(codes.ALPHABET) for c in drawn)


def test_codes_normalise_as_read_aloud_and_refuse_strangers():
    assert codes.display("ABCD2345WXYZ") == "ABCD-2345-WXYZ"
    assert codes.normalise(" abcd-2345 wxyz ") == "ABCD2345WXYZ"
    for bad in (
        "ABCD-2345-WXY0",
        "ABCD-2345-WXYO",
        "ABCD-2345-WXY",
        "ABCD2345WXYZQ",
        "ÄBCD2345WXYZ",
    ):
        assert codes.normalise(bad) is None, bad


def test_code_hash_and_encryption_need_the_secret_and_the_row():
    code = codes.new_code()
    assert codes.hash_code(SECRET, code) == codes.hash_code(SECRET, code)
    assert codes.hash_code(SECRET, code) != codes.hash_code("t" * 40, code)
    sealed = codes.encrypt_code(SECRET, code, "row-1")
    assert code not in sealed
    assert codes.decrypt_code(SECRET, sealed, "row-1") == code
    assert codes.decrypt_code(SECRET, sealed, "row-2") is None
    assert codes.decrypt_code("t" * 40, sealed, "row-1") is None
    assert codes.decrypt_code(SECRET, "not base64!", "row-1") is None


async def test_database_holds_no_usable_code(app, client):
    shop = await open_shop(app, client)
    voucher = await publish(shop.staff)
    alice = await citizen(client)
    await give_points(app, alice.id, 500)
    code = (await redeem(alice, voucher["id"])).json()["code"]
    async with session_scope(app.state.sessionmaker) as s:
        row = await s.scalar(select(Redemption))
    assert row is not None
    stored = " ".join([row.code_hash, row.code_encrypted, row.code_hint])
    assert code.replace("-", "") not in stored and code not in stored
    assert row.code_hint == code[-2:]


async def test_a_code_already_issued_is_drawn_again(app, client, monkeypatch):
    """A drawn code whose hash is taken inserts nothing; the redemption draws another."""
    shop = await open_shop(app, client)
    voucher = await publish(shop.staff)
    alice, bob = await citizen(client), await citizen(client)
    for who in (alice, bob):
        await give_points(app, who.id, 500)
    drawn = iter(["ABCD2345WXYZ", "ABCD2345WXYZ", "EFGH6789KMNP"])
    monkeypatch.setattr(codes, "new_code", lambda: next(drawn))
    first, second = await redeem(alice, voucher["id"]), await redeem(bob, voucher["id"])
    assert (first.status_code, second.status_code) == (201, 201), second.text
    assert first.json()["code"] == "ABCD-2345-WXYZ"
    assert second.json()["code"] == "EFGH-6789-KMNP"
    async with session_scope(app.state.sessionmaker) as s:
        assert await s.scalar(select(func.count()).select_from(Redemption)) == 2


async def test_demo_seed_can_run_twice_and_lets_the_till_sign_in(app, client):
    settings = app.state.settings
    async with session_scope(app.state.sessionmaker) as s:
        first = await seed_demo(s, settings)
    async with session_scope(app.state.sessionmaker) as s:
        again = await seed_demo(s, settings)
    assert DEMO_PASSWORD in first and "(exists)" in again
    async with session_scope(app.state.sessionmaker) as s:
        counts = [
            await s.scalar(select(func.count()).select_from(model))
            for model in (Merchant, Incentive, User)
        ]
        regions = set(await s.scalars(select(User.region).where(User.role == "citizen")))
    assert counts == [1, 3, 5]
    assert "CN-SX" in regions
    r = await login(client, "till@demo.tanhui.cn", DEMO_PASSWORD)
    assert r.status_code == 200
    token = r.json()["access_token"]
    own = await client.get("/v1/merchant/incentives", headers={"Authorization": f"Bearer {token}"})
    assert {i["title"] for i in own.json()["items"]} == {
        "Metro ride voucher",
        "Coffee",
        "Cinema ticket",
    }


async def test_demo_seed_refuses_production(app):
    settings = app.state.settings.model_copy(update={"env": "production"})
    async with session_scope(app.state.sessionmaker) as s:
        with pytest.raises(InvalidState):
            await seed_demo(s, settings)
