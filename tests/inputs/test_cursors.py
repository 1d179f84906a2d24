"""Every list reads its cursor through one codec: whatever a client sends in ``?cursor=``
is either a cursor we issued or a 400 ``bad_request`` with ``reason: invalid_cursor``."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from app.kit.pagination import Keyset, decode_cursor, encode_cursor
from app.models import Record
from tests.helpers import assert_problem, citizen, user_with_role
from tests.records.helpers import post


def b64(value: object) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


TAMPERED = {
    "not base64": "%%%not-base64%%%",
    "base64 of garbage": b64(b"\xff\xfe garbage"),
    "not a list": b64({"seq": 1}),
    "empty list": b64([]),
    "wrong arity": b64(["2026-11-23T00:00:00+00:00", "id", "extra"]),
    "a string for a number": b64(["abc"]),
    "a number for a time": b64([12345, "id"]),
    "a naive time": b64(["2026-11-23T00:00:00", "id"]),
    "a huge number": b64([10**30]),
    "a huge number pair": b64([10**30, 10**30]),
    "a boolean": b64([True]),
    "null values": b64([None, None]),
    "a NUL in the id": b64(["2026-11-23T00:00:00+00:00", "a\u0000b"]),
    "the end of the calendar": b64(["0001-01-01T00:00:00+14:00", "id"]),
    "nested lists": b64([[[]], [[]]]),
}


# Lists that need a filter to mean anything, and the filter to send with the cursor.
REQUIRED = {"/v1/admin/events": {"user_id": "00000000-0000-0000-0000-000000000000"}}


def list_routes(app) -> list[str]:
    """Every GET operation of the published document that takes ?cursor=: a new list is
    covered here by existing, without anyone remembering to add it."""
    found = []
    for path, operations in app.openapi()["paths"].items():
        params = operations.get("get", {}).get("parameters", [])
        if any(p["in"] == "query" and p["name"] == "cursor" for p in params):
            assert "{" not in path, f"give {path} its path parameters here"
            found.append(path)
    return sorted(found)


async def test_every_list_endpoint_answers_400_invalid_cursor_to_tampered_cursors(app, client):
    routes = list_routes(app)
    assert {"/v1/events", "/v1/account/transactions", "/v1/admin/audit"} <= set(routes)
    merchant_admin = await user_with_role(app, client, "admin")
    r = await merchant_admin.post("/v1/admin/merchants", json={"name": "Cursor Tea"})
    actors = [
        await citizen(client),
        await user_with_role(app, client, "merchant", merchant_id=r.json()["id"]),
        merchant_admin,
    ]
    for path in routes:
        for actor in actors:  # the first role that may read this list
            if (await actor.get(path, params=REQUIRED.get(path, {}))).status_code == 200:
                break
        else:
            pytest.fail(f"no role may read {path}")
        for name, cursor in TAMPERED.items():
            r = await actor.get(path, params={**REQUIRED.get(path, {}), "cursor": cursor})
            body = assert_problem(r, 400, "bad_request")
            assert body["reason"] == "invalid_cursor", (path, name, body)


async def test_the_issue_reproductions_are_400_not_500(client):
    c = await citizen(client)
    r = await c.get("/v1/account/transactions", params={"cursor": b64(["abc"])})
    assert assert_problem(r, 400, "bad_request")["reason"] == "invalid_cursor"
    r = await c.get("/v1/events", params={"cursor": b64(["2026-11-23T08:30:00", "x"])})
    assert assert_problem(r, 400, "bad_request")["reason"] == "invalid_cursor"


async def test_pages_follow_each_other_without_gaps_or_repeats(client):
    c = await citizen(client)
    for i in range(5):
        r = await post(c, "walking", {"steps": 100 + i})
        assert r.status_code == 201
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await c.get("/v1/events", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5 == len(set(seen))


def test_the_codec_round_trips_what_it_issues():
    kinds = Keyset((Record.received_at, Record.id)).kinds
    at = datetime(2026, 11, 23, 8, 30, 0, 123456, tzinfo=UTC)
    assert decode_cursor(encode_cursor(at, "r-1"), *kinds) == (at, "r-1")
    assert decode_cursor(encode_cursor(2**63 - 1), int) == (2**63 - 1,)
    assert decode_cursor(None, int) is None
