"""Instants are RFC 3339 in requests and UTC with Z, six fractional digits, in responses."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import assert_problem, citizen
from tests.records.helpers import event

UTC_Z = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")


@pytest.mark.parametrize("when", [1_700_000_000, "1700000000", "2026-11-23 08:30", "yesterday"])
async def test_unix_seconds_and_other_shapes_are_refused(client, when):
    me = await citizen(client)
    body = event("cycling", {"distance_km": 3, "duration_min": 12})
    body["occurred_at"] = when
    r = await me.post("/v1/events", json=body)
    problem = assert_problem(r, 422, "validation_error")
    assert problem["errors"][0]["field"] == "body.occurred_at"
    assert (await me.get("/v1/events")).json()["items"] == []


async def test_an_offset_time_is_answered_in_utc_with_z(client):
    me = await citizen(client)
    local = (datetime.now(UTC) - timedelta(hours=1)).astimezone().replace(microsecond=0)
    at = local.astimezone(UTC).replace(tzinfo=None).isoformat() + "+00:00"
    shanghai = (local.astimezone(UTC) + timedelta(hours=8)).replace(tzinfo=None).isoformat()
    r = await me.post(
        "/v1/events",
        json=event("cycling", {"distance_km": 3, "duration_min": 12}, at=shanghai + "+08:00"),
    )
    assert r.status_code == 201, r.text
    out = r.json()
    assert UTC_Z.fullmatch(out["occurred_at"]) and UTC_Z.fullmatch(out["received_at"])
    assert out["occurred_at"] == at.replace("+00:00", ".000000Z")
    listed = (await me.get("/v1/events")).json()["items"][0]
    assert listed["occurred_at"] == out["occurred_at"]
    account = (await me.get("/v1/account")).json()
    assert all(UTC_Z.fullmatch(e["expires_at"]) for e in account["expiring"])
    line = (await me.get("/v1/account/transactions")).json()["items"][0]
    assert UTC_Z.fullmatch(line["created_at"])
