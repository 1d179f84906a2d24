"""Several worker processes share nothing but PostgreSQL and Redis.

Real ``tanhui serve --workers 2`` processes; many concurrent connections, so requests land on
both workers. Revocations, nonces, rate limits and exactly-once crediting must hold across
them, and the ledger must prove itself at the end.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid

import asyncpg
import httpx
import pytest

from app.migrate import upgrade
from app.services.partners.keys import sign
from tests.conftest import (
    IN_CI,
    PG_ADMIN_URL,
    REDIS_URL,
    RUN_ID,
    _pg_base,
    _services_up,
    redis_prefix,
)
from tests.helpers import PASSWORD
from tests.production.server import base_env, create_user, serve, token
from tests.records.helpers import ago, event

# One server per module: keep the module on one xdist worker (make test uses --dist loadgroup).
pytestmark = pytest.mark.xdist_group("workers")


@pytest.fixture(scope="module")
def database():
    why = _services_up()
    if why:
        if IN_CI:
            pytest.fail(f"CI=true but the multi-worker tests cannot run: {why}")
        pytest.skip(why)
    name = f"tanhui_t_{RUN_ID}_workers_{uuid.uuid4().hex[:8]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+asyncpg://{_pg_base().split('://', 1)[1]}/{name}"
    upgrade(url)
    yield url
    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def env_for(database_url: str, **extra: str) -> dict[str, str]:
    return base_env(
        database_url,
        TANHUI_REDIS_URL=REDIS_URL,
        TANHUI_REDIS_PREFIX=redis_prefix(),
        **extra,
    )


@pytest.fixture(scope="module")
def cluster(database):
    env = env_for(database)
    admin_email = f"admin-{uuid.uuid4().hex[:8]}@example.cn"
    create_user(env, admin_email, "admin")
    with serve(env, workers=2) as (url, _):
        yield url, token(url, admin_email)


def client(url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, timeout=30, limits=httpx.Limits(max_connections=64))


async def citizen(c: httpx.AsyncClient) -> dict[str, str]:
    email = f"c-{uuid.uuid4().hex[:10]}@example.cn"
    r = await c.post("/v1/auth/register", json={"email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text
    t = await c.post("/v1/auth/token", data={"username": email, "password": PASSWORD})
    return {"Authorization": f"Bearer {t.json()['access_token']}", "id": r.json()["id"]}


def auth(h: dict[str, str]) -> dict[str, str]:
    return {"Authorization": h["Authorization"]}


async def test_a_revoked_token_is_refused_by_every_worker(cluster):
    url, _ = cluster
    async with client(url) as c:
        me = await citizen(c)
        assert (await c.post("/v1/auth/logout", headers=auth(me))).status_code == 204
        rs = await asyncio.gather(*[c.get("/v1/me", headers=auth(me)) for _ in range(30)])
        assert {r.status_code for r in rs} == {401}


async def test_same_record_raced_across_workers_credits_once(cluster):
    url, _ = cluster
    async with client(url) as c:
        me = await citizen(c)
        body = event("transit.metro", {"distance_km": 10, "duration_min": 20})
        rs = await asyncio.gather(
            *[c.post("/v1/events", json=body, headers=auth(me)) for _ in range(30)]
        )
        assert sorted(r.status_code for r in rs) == [200] * 29 + [201]
        assert (await c.get("/v1/account", headers=auth(me))).json()["balance"] == 467


async def test_last_units_raced_across_workers_never_oversell(cluster):
    url, admin_token = cluster
    admin = {"Authorization": f"Bearer {admin_token}"}
    async with client(url) as c:
        merchant = (
            await c.post("/v1/admin/merchants", json={"name": "Kiosk"}, headers=admin)
        ).json()
        staff_email = f"till-{uuid.uuid4().hex[:8]}@example.cn"
        r = await c.post(
            f"/v1/admin/merchants/{merchant['id']}/staff",
            json={"email": staff_email, "password": PASSWORD},
            headers=admin,
        )
        assert r.status_code == 201, r.text
        staff_token = (
            await c.post("/v1/auth/token", data={"username": staff_email, "password": PASSWORD})
        ).json()["access_token"]
        incentive = (
            await c.post(
                "/v1/merchant/incentives",
                json={"title": "Coffee", "points_cost": 100, "stock": 3},
                headers={"Authorization": f"Bearer {staff_token}"},
            )
        ).json()
        people = await asyncio.gather(*[citizen(c) for _ in range(12)])
        for p in people:
            r = await c.post(
                "/v1/events",
                json=event("walking", {"steps": 7250}, at=ago(hours=1)),
                headers=auth(p),
            )
            assert r.json()["points"] == 145
        rs = await asyncio.gather(
            *[
                c.post(
                    "/v1/redemptions",
                    json={"incentive_id": incentive["id"]},
                    headers={**auth(p), "Idempotency-Key": uuid.uuid4().hex},
                )
                for p in people
            ]
        )
        codes = sorted(r.status_code for r in rs)
        assert codes == [201] * 3 + [409] * 9, [r.text for r in rs]
        balances = [(await c.get("/v1/account", headers=auth(p))).json() for p in people]
        assert sorted(b["balance"] for b in balances) == [45] * 3 + [145] * 9


async def test_a_signed_partner_request_is_accepted_once_across_workers(cluster):
    url, admin_token = cluster
    admin = {"Authorization": f"Bearer {admin_token}"}
    async with client(url) as c:
        partner = (
            await c.post(
                "/v1/admin/partners",
                json={"name": "Bikes", "allowed_types": ["cycling"]},
                headers=admin,
            )
        ).json()
        me = await citizen(c)
        raw = json.dumps(
            {
                "events": [
                    {
                        "user_ref": me["id"],
                        **event("cycling", {"distance_km": 3, "duration_min": 12}),
                    }
                ]
            }
        ).encode()
        ts, nonce = str(int(time.time())), secrets.token_hex(12)
        headers = {
            "Content-Type": "application/json",
            "X-Partner-Key": partner["key_id"],
            "X-Timestamp": ts,
            "X-Nonce": nonce,
            "X-Signature": sign(partner["secret"], ts, nonce, raw),
        }
        rs = await asyncio.gather(
            *[c.post("/v1/partner/events", content=raw, headers=headers) for _ in range(10)]
        )
        assert sorted(r.status_code for r in rs) == [200] + [401] * 9
        assert (await c.get("/v1/account", headers=auth(me))).json()["balance"] == 120


async def test_leaderboards_and_ledger_agree_at_the_end(cluster):
    url, admin_token = cluster
    admin = {"Authorization": f"Bearer {admin_token}"}
    async with client(url) as c:
        me = await citizen(c)
        await c.post(
            "/v1/events",
            json=event("transit.metro", {"distance_km": 100, "duration_min": 90}),
            headers=auth(me),
        )
        boards = await asyncio.gather(
            *[c.get("/v1/leaderboards/all", headers=auth(me)) for _ in range(10)]
        )
        assert all(b.json()["items"][0]["is_me"] for b in boards), [b.json() for b in boards]
        check = (await c.get("/v1/admin/ledger/check", headers=admin)).json()
        assert check["ok"] is True, check


def test_sign_in_rate_limit_holds_across_workers(database):
    env = env_for(database, TANHUI_RATE_LIMIT_AUTH_PER_MINUTE="5")
    with serve(env, workers=2) as (url, _):

        async def attempts() -> list[httpx.Response]:
            async with client(url) as c:
                return list(
                    await asyncio.gather(
                        *[
                            c.post(
                                "/v1/auth/token",
                                data={"username": "x@example.cn", "password": "nope"},
                            )
                            for _ in range(12)
                        ]
                    )
                )

        rs = asyncio.run(attempts())
        assert sorted(r.status_code for r in rs) == [401] * 5 + [429] * 7
        assert all(int(r.headers["retry-after"]) >= 1 for r in rs if r.status_code == 429)
