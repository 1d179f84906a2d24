"""Recompute audits: every credited record re-run through its stored methodology version."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from tests.helpers import assert_problem, citizen, user_with_role
from tests.ledger.test_proofs import cli
from tests.records.helpers import ago, post


async def some_records(client) -> int:
    rider = await citizen(client, region="CN-SX")
    walks = [{"steps": 10_000}] * 3  # the second and third hit the daily cap
    rides = [{"distance_km": 10, "duration_min": 20}, {"distance_km": 3, "duration_min": 12}]
    n = 0
    for i, data in enumerate(walks):
        r = await post(rider, "walking", data, at=ago(hours=9 - i))
        assert r.json()["status"] == "credited", r.text
        n += 1
    for i, data in enumerate(rides):
        kind = "transit.metro" if i == 0 else "cycling"
        r = await post(rider, kind, data, at=ago(hours=3 - i))
        assert r.json()["status"] == "credited", r.text
        n += 1
    return n


async def finished(actor, audit_id: str) -> dict:
    for _ in range(600):
        r = await actor.get(f"/v1/admin/audits/{audit_id}")
        assert r.status_code == 200, r.text
        if r.json()["status"] != "running":
            return r.json()
        await asyncio.sleep(0.05)
    raise AssertionError("the audit did not finish")


async def test_a_clean_ledger_recomputes_to_no_mismatch(app, client):
    n = await some_records(client)
    admin = await user_with_role(app, client, "admin")
    auditor = await user_with_role(app, client, "auditor")
    r = await admin.post("/v1/admin/audits/recompute", json={})
    assert r.status_code == 202, r.text
    run = await finished(auditor, r.json()["id"])
    assert (run["status"], run["checked"], run["mismatch_count"]) == ("done", n, 0), run
    r = await admin.post("/v1/admin/audits/recompute", json={"methodology": "walking"})
    assert (await finished(admin, r.json()["id"]))["checked"] == 3


async def test_who_may_audit_and_bad_requests(app, client):
    admin = await user_with_role(app, client, "admin")
    auditor = await user_with_role(app, client, "auditor")
    assert_problem(await auditor.post("/v1/admin/audits/recompute", json={}), 403)
    assert_problem(await client.post("/v1/admin/audits/recompute", json={}), 401)
    bad = {"from": ago(hours=1), "to": ago(hours=2)}
    assert_problem(await admin.post("/v1/admin/audits/recompute", json=bad), 422)
    r = await admin.post("/v1/admin/audits/recompute", json={"methodology": "teleport"})
    assert_problem(r, 422)
    assert_problem(await admin.get("/v1/admin/audits/no-such-audit"), 404)


@pytest.mark.ledger_tampered
async def test_a_record_changed_behind_the_back_is_reported(app, client, database_url):
    await some_records(client)
    admin = await user_with_role(app, client, "admin")
    async with app.state.engine.begin() as conn:
        changed = (
            await conn.execute(
                text(
                    "UPDATE records SET reduction_g = reduction_g + 1000 "
                    "WHERE type = 'transit.metro' RETURNING id, reduction_g"
                )
            )
        ).one()
    r = await admin.post("/v1/admin/audits/recompute", json={})
    run = await finished(admin, r.json()["id"])
    assert run["mismatch_count"] == 1
    [m] = run["mismatches"]
    assert m["record_id"] == changed.id
    assert m["stored"]["reduction_g"] == changed.reduction_g
    assert m["recomputed"]["reduction_g"] == changed.reduction_g - 1000

    done = await cli(database_url, "audit", "recompute")
    assert done.returncode != 0 and "1 records differ" in done.stderr, done.stderr
    assert "recomputing" in done.stderr  # the progress bar
    assert changed.id in done.stdout


async def test_a_run_cut_off_by_a_restart_reads_interrupted_and_a_new_one_runs(app, client):
    """A run whose process ended stays ``running`` in its row; its stale heartbeat gives it
    away: it reads ``interrupted``, and the next run starts and finishes."""
    from datetime import timedelta

    from app.db import session_scope, utcnow
    from app.models import AuditRun
    from app.services.trust import recompute

    n = await some_records(client)
    admin = await user_with_role(app, client, "admin")
    long_ago = utcnow() - timedelta(seconds=recompute.STALE_S + 5)
    async with session_scope(app.state.sessionmaker) as s:
        cut_off, other, alive = (
            AuditRun(
                kind="recompute",
                status="running",
                params={"from": None, "to": None, "methodology": None},
                checked=5000,
                mismatch_count=0,
                mismatches=[],
                created_at=long_ago,
                heartbeat_at=beat,
            )
            for beat in (long_ago, long_ago, utcnow())
        )
        s.add_all([cut_off, other, alive])
    r = await admin.get(f"/v1/admin/audits/{cut_off.id}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["checked"]) == ("interrupted", 5000), body
    assert body["finished_at"] and "interrupted" in body["error"]
    # one with a recent heartbeat is still running
    assert (await admin.get(f"/v1/admin/audits/{alive.id}")).json()["status"] == "running"

    r = await admin.post("/v1/admin/audits/recompute", json={})
    assert r.status_code == 202, r.text
    run = await finished(admin, r.json()["id"])
    assert (run["status"], run["checked"], run["mismatch_count"]) == ("done", n, 0), run
    assert run["heartbeat_at"] is not None
    # asking for a new run swept the other stale one too
    async with session_scope(app.state.sessionmaker) as s:
        assert (await s.get(AuditRun, other.id)).status == "interrupted"


async def test_a_run_marked_interrupted_stops_and_stays_interrupted(app, client):
    from app.db import session_scope
    from app.models import AuditRun
    from app.services.trust import recompute

    await some_records(client)
    async with session_scope(app.state.sessionmaker) as s:
        row = AuditRun(
            kind="recompute",
            status="interrupted",
            params={"from": None, "to": None, "methodology": None},
            checked=0,
            mismatch_count=0,
            mismatches=[],
        )
        s.add(row)
    await recompute.run(app.state.engine, app.state.sessionmaker, row.id)
    async with session_scope(app.state.sessionmaker) as s:
        again = await s.get(AuditRun, row.id)
        assert (again.status, again.checked) == ("interrupted", 0)
