"""``tanhui seal-ledger``: transactions posted before hashing existed get the hash the
posting path would have given them, once; the export then verifies with every transaction
sealed, and a change made afterwards is still caught."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.services.ledger.verification import Bad, verify
from tests.helpers import citizen, user_with_role
from tests.ledger.test_proofs import behind_the_back, cli, credited_rides, export, live_audit


async def hashes(app) -> dict[str, str | None]:
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(text("SELECT id, hash FROM ledger_transactions"))
        return {r.id: r.hash for r in rows}


@pytest.mark.ledger_tampered
async def test_unsealed_transactions_are_sealed_once_and_tampering_is_still_caught(
    app, client, backend, database_url, tmp_path: Path
):
    rider = await citizen(client)
    await credited_rides(rider, 4)
    sealed_at_posting = await hashes(app)
    # as they were before hashing existed: no hash, no decision hash
    await behind_the_back(
        app, backend, "UPDATE ledger_transactions SET hash = NULL, decision_hash = NULL"
    )
    n = len(sealed_at_posting)
    assert set((await hashes(app)).values()) == {None}
    auditor = await user_with_role(app, client, "auditor")
    assert verify(await export(auditor))["unsealed"] == n

    done = await cli(database_url, "seal-ledger", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"sealed": n, "unsealed": 0}
    sealed = await hashes(app)
    assert None not in sealed.values()
    again = await cli(database_url, "seal-ledger", "--json")  # idempotent
    assert json.loads(again.stdout) == {"sealed": 0, "unsealed": 0}, again.stderr
    assert await hashes(app) == sealed

    assert (await cli(database_url, "checkpoint")).returncode == 0
    assert (await live_audit(app))["ok"]
    lines = await export(auditor)
    report = verify(lines)
    assert (report["unsealed"], report["transactions"], report["checkpoints"]) == (0, n, 1)
    (tmp_path / "sealed.jsonl").write_text("".join(lines))
    ok = await cli(database_url, "verify-export", str(tmp_path / "sealed.jsonl"))
    assert ok.returncode == 0 and "0 posted before sealing" in ok.stdout, ok.stderr

    if backend.name == "postgres":  # the trigger lets a NULL hash be set, nothing else
        for statement in (
            "UPDATE ledger_transactions SET hash = repeat('0', 64) WHERE seq = 1",
            "UPDATE ledger_transactions SET memo = '{\"x\": 1}' WHERE seq = 1",
        ):
            with pytest.raises(DBAPIError, match="append-only"):
                async with app.state.engine.begin() as conn:
                    await conn.execute(text(statement))

    await behind_the_back(
        app, backend, "UPDATE ledger_transactions SET memo = '{\"x\": 1}' WHERE seq = 2"
    )
    report = await live_audit(app)
    assert not report["ok"] and "does not match its hash" in report["problem"], report
    with pytest.raises(Bad, match="does not match its hash"):
        verify(await export(auditor))


async def test_sealing_an_unsealed_row_on_postgres_changes_nothing_else(app, client, backend):
    """The trigger's one exception needs every other column unchanged."""
    if backend.name != "postgres":
        pytest.skip("SQLite has no append-only trigger")
    rider = await citizen(client)
    await credited_rides(rider, 1)
    await behind_the_back(app, backend, "UPDATE ledger_transactions SET hash = NULL")
    with pytest.raises(DBAPIError, match="append-only"):
        async with app.state.engine.begin() as conn:
            await conn.execute(
                text("UPDATE ledger_transactions SET hash = repeat('0', 64), ref = 'other'")
            )
    async with app.state.engine.begin() as conn:
        await conn.execute(text("UPDATE ledger_transactions SET hash = repeat('0', 64)"))
    await behind_the_back(app, backend, "UPDATE ledger_transactions SET hash = NULL")
