"""Verified-reduction batches: serials per whole tonne with carry-over, issued once per record,
retired or transferred once, verifiable by anyone, exported for a registry."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from app.db import session_scope
from app.models import AuditEntry, BatchRecord
from tests.conftest import TEST_TIMEZONE
from tests.helpers import assert_problem, citizen, user_with_role
from tests.records.helpers import post

# Self-reported electricity saving of 3 000 kWh in CN-GD (530.6 g/kWh): 1 591 800 g.
SAVING = {"baseline_kwh": 3000, "actual_kwh": 0, "period_days": 30}
GRAMS = 1_591_800


def window() -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "from": (now - timedelta(days=2)).isoformat(),
        "to": (now + timedelta(hours=1)).isoformat(),
    }


def vintage() -> int:
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(TEST_TIMEZONE)).year


async def verified(client, admin, n: int, region: str = "CN-GD") -> list[str]:
    """``n`` records of GRAMS each, credited after review (one citizen each: periods overlap)."""
    ids = []
    for _ in range(n):
        c = await citizen(client, region=region)
        r = await post(c, "energy.electricity_saving", SAVING)
        assert r.status_code == 201 and r.json()["status"] == "pending_review", r.text
        r = await admin.post(f"/v1/admin/events/{r.json()['id']}/approve")
        assert r.status_code == 200 and r.json()["reduction_g"] == GRAMS, r.text
        ids.append(r.json()["id"])
    return ids


async def issue(admin, **kw):
    return await admin.post("/v1/admin/batches", json={**window(), "note": "test", **kw})


async def members(app, batch_id: str) -> set[str]:
    async with session_scope(app.state.sessionmaker) as s:
        return set(
            await s.scalars(select(BatchRecord.record_id).where(BatchRecord.batch_id == batch_id))
        )


async def test_one_serial_per_whole_tonne_and_the_remainder_carries_over(app, client):
    admin = await user_with_role(app, client, "admin")
    first_ids = await verified(client, admin, 2)
    r = await issue(admin, region="CN-GD")
    assert r.status_code == 201, r.text
    first = r.json()
    prefix = f"TANHUI-GD-{vintage()}"
    assert (first["serial_from"], first["serial_to"], first["tonnes"]) == (
        f"{prefix}-000001",
        f"{prefix}-000003",
        3,
    )
    assert first["status"] == "issued" and first["records"] == 2
    assert first["reduction_g"] == 2 * GRAMS and first["carried_out_g"] == 2 * GRAMS - 3_000_000
    assert first["versions"][0]["methodology"] == "energy.electricity_saving"
    assert len(first["hash"]) == 64
    assert await members(app, first["id"]) == set(first_ids)

    # Nothing new: nothing issued, nothing changed.
    assert_problem(await issue(admin, region="CN-GD"), 409, "nothing_to_issue")

    third = await verified(client, admin, 1)
    r = await issue(admin, region="CN-GD")
    second = r.json()
    assert second["carried_in_g"] == first["carried_out_g"]
    assert second["tonnes"] == 1 and second["serial_from"] == f"{prefix}-000004"
    assert second["carried_out_g"] == first["carried_out_g"] + GRAMS - 1_000_000
    assert await members(app, second["id"]) == set(third)

    # Anyone resolves a serial to its batch; nothing personal in it.
    public = await client.get(f"/v1/public/batches/{prefix}-000002")
    assert public.status_code == 200, public.text
    view = public.json()
    assert view["batch_id"] == first["id"] and view["serial"] == f"{prefix}-000002"
    assert view["status"] == "issued" and view["hash"] == first["hash"]
    assert "note" not in view and "records_ids" not in view
    assert (await client.get(f"/v1/public/batches/{prefix}-000004")).json()["batch_id"] == second[
        "id"
    ]
    assert_problem(await client.get(f"/v1/public/batches/{prefix}-000005"), 404)
    assert_problem(await client.get("/v1/public/batches/not-a-serial"), 404)

    listed = (await admin.get("/v1/admin/batches")).json()["items"]
    assert [b["id"] for b in listed] == [second["id"], first["id"]]


async def test_bad_batch_requests_change_nothing(app, client):
    admin = await user_with_role(app, client, "admin")
    auditor = await user_with_role(app, client, "auditor")
    rider = await citizen(client)
    w = window()
    r = await admin.post("/v1/admin/batches", json={"from": w["to"], "to": w["from"], "note": "x"})
    assert_problem(r, 422)
    r = await admin.post(
        "/v1/admin/batches",
        json={"from": "2025-06-01T00:00:00+08:00", "to": "2026-06-01T00:00:00+08:00", "note": "x"},
    )
    assert_problem(r, 422)
    assert_problem(
        await admin.post("/v1/admin/batches", json={"from": w["from"], "note": "x"}), 422
    )
    assert_problem(await auditor.post("/v1/admin/batches", json={**w, "note": "x"}), 403)
    assert_problem(await rider.post("/v1/admin/batches", json={**w, "note": "x"}), 403)
    assert_problem(await client.post("/v1/admin/batches", json={**w, "note": "x"}), 401)
    assert (await auditor.get("/v1/admin/batches")).status_code == 200
    assert_problem(
        await admin.post("/v1/admin/batches/nope/retire", json={"beneficiary": "a", "note": "b"}),
        404,
    )


async def test_retire_or_transfer_once_every_act_audited_and_exported(app, client):
    admin = await user_with_role(app, client, "admin")
    ids = await verified(client, admin, 1)
    batch = (await issue(admin)).json()
    assert batch["serial_from"].startswith(f"TANHUI-CN-{vintage()}-")
    r = await admin.post(
        f"/v1/admin/batches/{batch['id']}/retire",
        json={"beneficiary": "Guangzhou Metro Group", "note": "2026 offset"},
    )
    assert r.status_code == 200 and r.json()["status"] == "retired", r.text
    assert r.json()["beneficiary"] == "Guangzhou Metro Group"
    again = await admin.post(
        f"/v1/admin/batches/{batch['id']}/retire", json={"beneficiary": "X", "note": "again"}
    )
    assert_problem(again, 409, "batch_final")
    sold = await admin.post(
        f"/v1/admin/batches/{batch['id']}/transfer", json={"to": "Y", "note": "n"}
    )
    assert_problem(sold, 409, "batch_final")
    public = (await client.get(f"/v1/public/batches/{batch['serial_from']}")).json()
    assert (public["status"], public["beneficiary"], public["holder"]) == (
        "retired",
        "Guangzhou Metro Group",
        None,
    )
    async with session_scope(app.state.sessionmaker) as s:
        actions = list(
            await s.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.target_id == batch["id"])
                .order_by(AuditEntry.seq)
            )
        )
    assert actions == ["batch.issued", "batch.retired"]

    as_json = await admin.get(f"/v1/admin/batches/{batch['id']}/export")
    assert as_json.status_code == 200, as_json.text
    body = as_json.json()
    assert body["batch"]["id"] == batch["id"] and [r["record_id"] for r in body["records"]] == ids
    as_csv = await admin.get(
        f"/v1/admin/batches/{batch['id']}/export", headers={"Accept": "text/csv"}
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [(r["record_id"], int(r["reduction_g"])) for r in rows] == [(ids[0], GRAMS)]


async def test_reversing_a_record_of_a_batch_books_its_grams_to_the_buffer(app, client):
    admin = await user_with_role(app, client, "admin")
    ids = await verified(client, admin, 1)
    batch = (await issue(admin)).json()
    r = await admin.post(f"/v1/admin/events/{ids[0]}/reverse", json={"reason": "meter fraud"})
    assert r.status_code == 200, r.text
    public = (await client.get(f"/v1/public/batches/{batch['serial_from']}")).json()
    assert public["buffer_deduction_g"] == GRAMS


async def test_two_admins_issuing_overlapping_batches_at_once_never_share_a_record(app, client):
    admins = [await user_with_role(app, client, "admin") for _ in range(2)]
    ids = await verified(client, admins[0], 4)
    for _ in range(3):  # regional and national series want the same records
        results = await asyncio.gather(
            issue(admins[0], region="CN-GD"), issue(admins[1]), issue(admins[1], region="CN-GD")
        )
        made = [r.json() for r in results if r.status_code == 201]
        assert all(r.status_code in (201, 409) for r in results), [r.text for r in results]
        for r in results:
            if r.status_code == 409:
                assert r.json()["code"] == "nothing_to_issue"
        seen: list[str] = []
        for b in made:
            mine = await members(app, b["id"])
            assert len(mine) == b["records"]
            seen += mine
        assert len(seen) == len(set(seen)) and set(seen) <= set(ids)
        ids += await verified(client, admins[0], 2)
    async with session_scope(app.state.sessionmaker) as s:
        rows = await s.scalar(select(func.count()).select_from(BatchRecord))
        distinct = await s.scalar(select(func.count(func.distinct(BatchRecord.record_id))))
    assert rows == distinct


async def test_retiring_and_transferring_one_batch_at_once_lets_exactly_one_win(app, client):
    admins = [await user_with_role(app, client, "admin") for _ in range(2)]
    await verified(client, admins[0], 1)
    batch = (await issue(admins[0])).json()
    url = f"/v1/admin/batches/{batch['id']}"
    results = await asyncio.gather(
        admins[0].post(f"{url}/retire", json={"beneficiary": "A", "note": "n"}),
        admins[1].post(f"{url}/transfer", json={"to": "B", "note": "n"}),
        admins[0].post(f"{url}/transfer", json={"to": "C", "note": "n"}),
        admins[1].post(f"{url}/retire", json={"beneficiary": "D", "note": "n"}),
    )
    assert sorted(r.status_code for r in results) == [200, 409, 409, 409]
    winner = next(r.json() for r in results if r.status_code == 200)
    final = (await admins[0].get(url)).json()
    assert (final["status"], final["holder"], final["beneficiary"]) == (
        winner["status"],
        winner["holder"],
        winner["beneficiary"],
    )
    async with session_scope(app.state.sessionmaker) as s:
        acts = await s.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.target_id == batch["id"], AuditEntry.action != "batch.issued")
        )
    assert acts == 1
