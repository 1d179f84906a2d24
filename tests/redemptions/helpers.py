"""Steps of the redemption story: a merchant with staff, points for citizens, a shop shelf."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from app.db import session_scope, utcnow
from app.models import Incentive, PointLot
from app.services import ledger
from tests.helpers import Actor, citizen, user_with_role


@dataclass
class Shop:
    admin: Actor
    merchant_id: str
    staff: Actor


async def open_shop(app: FastAPI, client: httpx.AsyncClient, name: str = "Green Life") -> Shop:
    admin = await user_with_role(app, client, "admin")
    r = await admin.post("/v1/admin/merchants", json={"name": name})
    assert r.status_code == 201, r.text
    merchant_id = r.json()["id"]
    staff = await user_with_role(app, client, "merchant", merchant_id=merchant_id)
    return Shop(admin, merchant_id, staff)


async def give_points(
    app: FastAPI, user_id: str, points: int, *, expires_at: datetime | None = None
) -> None:
    """Points straight from the ledger, as a credited record would give them."""
    async with session_scope(app.state.sessionmaker) as s:
        await ledger.credit(
            s,
            user_id=user_id,
            points=points,
            ref=f"test-credit:{uuid.uuid4()}",
            cause_type="record",
            cause_id=None,
            expires_at=expires_at or utcnow() + timedelta(days=365),
        )


async def publish(staff: Actor, **fields: Any) -> dict[str, Any]:
    body = {"title": "Metro ride voucher", "points_cost": 500, **fields}
    r = await staff.post("/v1/merchant/incentives", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def customers(
    app: FastAPI, client: httpx.AsyncClient, points: list[int], **voucher: Any
) -> tuple[Shop, dict[str, Any], list[Actor]]:
    """A shop, a voucher of it (``publish``'s fields), and one citizen for each of ``points``,
    given that many points."""
    shop = await open_shop(app, client)
    published = await publish(shop.staff, **voucher)
    people = [await citizen(client) for _ in points]
    for person, given in zip(people, points, strict=True):
        await give_points(app, person.id, given)
    return shop, published, people


async def redeem(citizen: Actor, incentive_id: str, key: str | None = None) -> httpx.Response:
    return await citizen.post(
        "/v1/redemptions",
        json={"incentive_id": incentive_id},
        headers={"Idempotency-Key": key or str(uuid.uuid4())},
    )


async def verify(staff: Actor, code: str) -> httpx.Response:
    return await staff.post("/v1/merchant/redemptions/verify", json={"code": code})


async def balance(citizen: Actor) -> dict[str, Any]:
    r = await citizen.get("/v1/account")
    assert r.status_code == 200, r.text
    return r.json()


async def incentive_row(app: FastAPI, incentive_id: str) -> Incentive:
    async with session_scope(app.state.sessionmaker) as s:
        row = await s.get(Incentive, incentive_id)
        assert row is not None
        return row


async def lots(app: FastAPI, user_id: str) -> list[tuple[int, int]]:
    """(amount, remaining) of the citizen's lots, soonest-expiring first."""
    async with session_scope(app.state.sessionmaker) as s:
        rows = await s.scalars(
            select(PointLot).where(PointLot.user_id == user_id).order_by(PointLot.expires_at)
        )
        return [(lot.amount, lot.remaining) for lot in rows]


async def ledger_is_clean(admin: Actor) -> None:
    r = await admin.get("/v1/admin/ledger/check")
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is True, r.json()
