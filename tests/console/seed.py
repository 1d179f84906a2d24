"""What the browser tests find on a fresh server: an administrator and an auditor (made with
the command line, as an operator would), and through the API a merchant with a staff
account and an incentive, citizens with credited records, one record waiting for review and
one issued redemption code; an organisation with a member, a labelled product that a
purchase at the till names (so its label is fixed), a donation project, a verified-reduction
batch (CN-SH), and in CN-GD over a tonne of approved savings not yet in a batch."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from tests.helpers import PASSWORD
from tests.production.server import create_user


@dataclass
class Seed:
    admin: str
    auditor: str
    staff: str
    citizen: str
    pending_id: str
    credited_id: str
    code: str
    citizen_id: str
    batch_id: str
    organisation_id: str
    product_id: str


def _email(role: str) -> str:
    return f"{role}-{uuid.uuid4().hex[:8]}@example.cn"


def _token(c: httpx.Client, email: str) -> dict[str, str]:
    r = c.post("/v1/auth/token", data={"username": email, "password": PASSWORD})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _ok(r: httpx.Response) -> dict:
    assert r.status_code in (200, 201), r.text
    return r.json()


def _record(c: httpx.Client, who: dict[str, str], type_: str, data: dict, hours: float) -> dict:
    at = (datetime.now(UTC) - timedelta(hours=hours)).isoformat()
    body = {"client_event_id": uuid.uuid4().hex, "type": type_, "occurred_at": at, "data": data}
    return _ok(c.post("/v1/events", json=body, headers=who))


def seed(base_url: str, env: dict[str, str]) -> Seed:
    admin, auditor = _email("admin"), _email("auditor")
    create_user(env, admin, "admin")
    create_user(env, auditor, "auditor")
    with httpx.Client(base_url=base_url, timeout=30) as c:
        boss = _token(c, admin)
        merchant = _ok(c.post("/v1/admin/merchants", json={"name": "绿色咖啡"}, headers=boss))
        staff = _email("staff")
        _ok(
            c.post(
                f"/v1/admin/merchants/{merchant['id']}/staff",
                json={"email": staff, "password": PASSWORD, "display_name": "收银员"},
                headers=boss,
            )
        )
        till = _token(c, staff)
        incentive = _ok(
            c.post(
                "/v1/merchant/incentives",
                json={"title": "美式咖啡一杯", "points_cost": 300, "stock": 20},
                headers=till,
            )
        )
        citizens = []
        for region in ("CN-SX", "CN-BJ"):
            email = _email("citizen")
            _ok(
                c.post(
                    "/v1/auth/register",
                    json={"email": email, "password": PASSWORD, "region": region},
                )
            )
            citizens.append((email, _token(c, email)))
        credited = None
        for i, (_, who) in enumerate(citizens):
            for hours in (30 + i, 6 + i, 1 + i):
                rec = _record(
                    c, who, "transit.metro", {"distance_km": 12.4, "duration_min": 31}, hours
                )
                assert rec["status"] == "credited", rec
                credited = credited or rec
        pending = _record(
            c,
            citizens[0][1],
            "energy.electricity_saving",
            {"baseline_kwh": 120, "actual_kwh": 98.5, "period_days": 30},
            2,
        )
        assert pending["status"] == "pending_review", pending
        # Over a tonne each in CN-SH (issued as a batch here) and CN-GD (left for the tests).
        saving = {"baseline_kwh": 3000, "actual_kwh": 0, "period_days": 30}
        for region in ("CN-SH", "CN-GD"):
            email = _email("saver")
            _ok(
                c.post(
                    "/v1/auth/register",
                    json={"email": email, "password": PASSWORD, "region": region},
                )
            )
            waiting = _record(c, _token(c, email), "energy.electricity_saving", saving, 3)
            _ok(c.post(f"/v1/admin/events/{waiting['id']}/approve", headers=boss))
        now = datetime.now(UTC)
        batch = _ok(
            c.post(
                "/v1/admin/batches",
                json={
                    "region": "CN-SH",
                    "from": (now - timedelta(days=1)).isoformat(),
                    "to": (now + timedelta(minutes=1)).isoformat(),
                    "note": "上海 节电 示例批次",
                },
                headers=boss,
            )
        )
        organisation = _ok(
            c.post(
                "/v1/admin/organisations",
                json={"name": "迎泽街道社区", "kind": "community", "region": "CN-SX"},
                headers=boss,
            )
        )
        _ok(
            c.post(
                "/v1/me/organisations",
                json={"join_code": organisation["join_code"]},
                headers=citizens[0][1],
            )
        )
        # A member's ride after joining counts for the organisation.
        ride = {"distance_km": 12.4, "duration_min": 31}
        assert _record(c, citizens[0][1], "transit.metro", ride, 0)["status"] == "credited"
        product = _ok(
            c.post(
                "/v1/admin/products",
                json={
                    "name": "低碳燕麦奶 1 升",
                    "label_id": "CL-2026-0001",
                    "certifier": "示例认证中心",
                    "reduction_g_per_unit": "350",
                    "source": "碳标签 CL-2026-0001 产品碳足迹报告",
                },
                headers=boss,
            )
        )
        # Bought at the till by the citizen who is no member (the organisation's figures stay).
        shown = _ok(c.get("/v1/me/member-code", headers=citizens[1][1]))["code"]
        purchase = {
            "member_code": shown,
            "client_event_id": uuid.uuid4().hex,
            "items": [{"product_id": product["id"], "quantity": 2}],
        }
        _ok(c.post("/v1/merchant/purchases", json=purchase, headers=till))
        _ok(
            c.post(
                "/v1/admin/projects",
                json={
                    "name": "吕梁山植树",
                    "description": "每单位种植并养护一棵树三年。",
                    "points_per_unit": 500,
                    "unit_name": "棵树",
                    "target_units": 10000,
                },
                headers=boss,
            )
        )
        me = _ok(c.get("/v1/me", headers=citizens[0][1]))
        redemption = c.post(
            "/v1/redemptions",
            json={"incentive_id": incentive["id"]},
            headers={**citizens[1][1], "Idempotency-Key": uuid.uuid4().hex},
        )
        code = _ok(redemption)["code"]
    assert credited is not None
    return Seed(
        admin,
        auditor,
        staff,
        citizens[0][0],
        pending["id"],
        credited["id"],
        code,
        me["id"],
        batch["id"],
        organisation["id"],
        product["id"],
    )
