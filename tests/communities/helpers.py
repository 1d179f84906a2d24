"""Steps of the community stories: an organisation to join, a shop with labelled products."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.helpers import Actor


async def organisation(admin: Actor, **fields: Any) -> dict[str, Any]:
    body = {"name": "Yingze Street Community", "kind": "community", "region": "CN-SX", **fields}
    r = await admin.post("/v1/admin/organisations", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def join(actor: Actor, join_code: str) -> httpx.Response:
    return await actor.post("/v1/me/organisations", json={"join_code": join_code})


async def product(admin: Actor, **fields: Any) -> dict[str, Any]:
    body = {
        "name": "Low-carbon oat milk 1 L",
        "label_id": f"CL-{uuid.uuid4().hex[:8]}",
        "certifier": "Example Certification Centre",
        "reduction_g_per_unit": "350",
        "source": "Carbon label: footprint against the conventional product",
        **fields,
    }
    r = await admin.post("/v1/admin/products", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def member_code(actor: Actor) -> str:
    r = await actor.get("/v1/me/member-code")
    assert r.status_code == 200, r.text
    assert r.json()["expires_in"] == 120
    return r.json()["code"]


async def ring_up(
    staff: Actor, code: str, items: list[tuple[str, int]], cid: str | None = None
) -> httpx.Response:
    return await staff.post(
        "/v1/merchant/purchases",
        json={
            "member_code": code,
            "client_event_id": cid or uuid.uuid4().hex,
            "items": [{"product_id": p, "quantity": q} for p, q in items],
        },
    )
