"""Numbers in records and parameters are bounded in size and precision, so no computation
overflows and no stored value grows beyond the digits that were declared."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import BaseModel

from app.rules import registry
from app.rules.base import unbounded_numbers
from tests.helpers import assert_problem, citizen, user_with_role
from tests.records.helpers import event, post, signed_post

METRO_OK = {"distance_km": 10, "duration_min": 20}


@pytest.mark.parametrize("m", registry.all_methodologies(), ids=lambda m: m.code)
@pytest.mark.parametrize("model", ["Input", "Params"])
def test_every_decimal_of_every_methodology_declares_digits_places_and_bounds(m, model):
    schema: type[BaseModel] = getattr(m, model)
    assert unbounded_numbers(schema) == []


@pytest.mark.parametrize("value", [1e-25, "1E-999999", "1E+999999", "0.0000001", "NaN", 1e308])
async def test_an_absurd_duration_is_a_422_and_stores_nothing(client, value):
    c = await citizen(client)
    r = await post(c, "transit.metro", {"distance_km": 10, "duration_min": value})
    body = assert_problem(r, 422, "validation_error")
    assert [e["field"] for e in body["errors"]] == ["data.duration_min"]
    assert (await c.get("/v1/events")).json()["items"] == []


async def test_a_tiny_walking_duration_is_a_422(client):
    c = await citizen(client)
    r = await post(c, "walking", {"steps": 5000, "duration_min": "1E-999999"})
    body = assert_problem(r, 422, "validation_error")
    assert [e["field"] for e in body["errors"]] == ["data.duration_min"]


async def test_a_bad_number_in_a_batch_fails_alone(client):
    c = await citizen(client)
    items = [
        event("transit.metro", {"distance_km": 10, "duration_min": 1e-25}),
        event("walking", {"steps": 4000}),
        event("transit.bus", {"distance_km": "1E-999999", "duration_min": 20}),
        event(
            "energy.electricity_saving",
            {"baseline_kwh": "1E+999999", "actual_kwh": 1, "period_days": 1},
        ),
    ]
    r = await c.post("/v1/events/batch", json={"events": items})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["invalid", "credited", "invalid", "invalid"]
    assert {x["error"]["code"] for x in results if x["status"] == "invalid"} == {"validation_error"}
    assert len((await c.get("/v1/events")).json()["items"]) == 1


async def test_a_bad_number_in_a_partner_batch_fails_alone(app, client):
    admin = await user_with_role(app, client, "admin")
    r = await admin.post(
        "/v1/admin/partners", json={"name": "Metro", "allowed_types": ["transit.metro"]}
    )
    key, secret = r.json()["key_id"], r.json()["secret"]
    c = await citizen(client)
    body = {
        "events": [
            {"user_ref": c.id, **event("transit.metro", {"distance_km": 9, "duration_min": 1e-25})},
            {"user_ref": c.id, **event("transit.metro", METRO_OK)},
        ]
    }
    r = await signed_post(client, key, secret, body, timestamp=int(time.time()))
    assert r.status_code == 200, r.text
    assert [x["status"] for x in r.json()["results"]] == ["invalid", "credited"]


async def test_a_stored_record_keeps_a_bounded_representation(client):
    """Issue reproduction: 159 bytes in must not come back as megabytes."""
    c = await citizen(client)
    r = await post(c, "transit.metro", {"distance_km": "1E-999999", "duration_min": 20})
    assert_problem(r, 422, "validation_error")
    assert len(r.content) < 2000
    r = await post(c, "transit.metro", {"distance_km": "1.24000E+1", "duration_min": "31.00"})
    assert r.status_code == 201, r.text
    detail = (await c.get(f"/v1/events/{r.json()['id']}")).json()
    assert detail["data"] == {"distance_km": "12.4", "duration_min": "31"}
    assert len((await c.get(f"/v1/events/{r.json()['id']}")).content) < 4000


async def test_equal_numbers_in_other_notations_replay_the_same_record(client):
    c = await citizen(client)
    first = await post(c, "transit.metro", {"distance_km": 12.4, "duration_min": 31}, cid="x-1")
    again = await post(
        c,
        "transit.metro",
        {"distance_km": "1.240E+1", "duration_min": "31.0"},
        cid="x-1",
        at=first.json()["occurred_at"],
    )
    assert first.status_code == 201 and again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]


async def test_the_published_schemas_show_precision_and_bounds(client):
    c = await citizen(client)
    items = (await c.get("/v1/methodologies")).json()["items"]
    for item in items:
        for name, prop in item["input_schema"]["properties"].items():
            numeric = prop.get("type") in ("number", "integer") or "anyOf" in prop
            if not numeric:
                continue
            branches = prop.get("anyOf", [prop])
            assert any("maximum" in b for b in branches), (item["code"], name, prop)
            if "anyOf" in prop:  # a decimal: its places are published as multipleOf
                assert Decimal(str(prop["multipleOf"])) > 0, (item["code"], name, prop)


@pytest.mark.parametrize("value", ["1E-999999", "1E+999999", "0.00000000001"])
async def test_a_parameter_version_with_an_absurd_number_is_a_422(app, client, value):
    admin = await user_with_role(app, client, "admin")
    start = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    r = await admin.post(
        "/v1/admin/methodologies/walking/versions",
        json={"params": {"reduction_g_per_step": value}, "effective_from": start},
    )
    body = assert_problem(r, 422, "validation_error")
    assert body["errors"][0]["field"] == "params.reduction_g_per_step"
    r = await admin.post(
        "/v1/admin/methodologies/energy.electricity_saving/versions",
        json={
            "params": {"regions": {"CN-SX": {"grid_ef_g_per_kwh": value}}},
            "effective_from": start,
        },
    )
    assert_problem(r, 422, "validation_error")
