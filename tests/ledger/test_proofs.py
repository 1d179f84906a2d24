"""Tamper evidence: every transaction is sealed by its hash, checkpoints chain Merkle roots, and
changes made behind the service's back (append-only triggers disabled) are caught by
``tanhui audit`` on the live database and by ``tanhui verify-export`` on an export."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, text

from app.db import session_scope
from app.models import LedgerCheckpoint, LedgerTransaction
from app.services.ledger import checkpoints, proofs
from app.services.ledger.verification import Bad, audit, trusted_checkpoints, verify
from tests.cli import tanhui_async
from tests.conftest import TEST_HASH_COST, TEST_SECRET, TEST_TIMEZONE
from tests.helpers import citizen, user_with_role
from tests.records.helpers import ago, post

METRO = {"distance_km": 10, "duration_min": 20}


_rides: dict[str, int] = {}


async def credited_rides(actor, n: int) -> list[dict]:
    """``n`` metro rides, each in its own half hour of the past (no overlap), credited."""
    out = []
    for _ in range(n):
        slot = _rides[actor.id] = _rides.get(actor.id, 0) + 1
        r = await post(actor, "transit.metro", METRO, at=ago(minutes=30 * slot))
        assert r.status_code == 201 and r.json()["status"] == "credited", r.text
        out.append(r.json())
    return out


async def cut(app) -> list:
    async with session_scope(app.state.sessionmaker) as s:
        return await checkpoints.cut(s)


async def live_audit(app) -> dict:
    async with session_scope(app.state.sessionmaker) as s:
        return await audit(s)


async def export(admin) -> list[str]:
    r = await admin.get("/v1/admin/ledger/export")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson")
    return r.text.splitlines(keepends=True)


def _cli_env(database_url: str) -> dict[str, str]:
    env = {
        **os.environ,
        "TANHUI_ENV": "test",
        "TANHUI_DATABASE_URL": database_url,
        "TANHUI_JWT_SECRET": TEST_SECRET,
        "TANHUI_TIMEZONE": TEST_TIMEZONE,
        **{f"TANHUI_{k.upper()}": str(v) for k, v in TEST_HASH_COST.items()},
    }
    env.pop("TANHUI_REDIS_URL", None)
    return env


async def cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``tanhui *args`` on the test's database, in this process (see ``tests/cli.py``)."""
    return await tanhui_async(_cli_env(database_url), *args)


async def process(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``tanhui *args`` as a real process: the entry point, the environment and the exit code
    as a shell sees them."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        *args,
        env=_cli_env(database_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return subprocess.CompletedProcess(
        [sys.executable, "-m", "app.cli", *args], proc.returncode or 0, out.decode(), err.decode()
    )


APPEND_ONLY = ("ledger_entries", "ledger_transactions", "ledger_checkpoints")


async def behind_the_back(app, backend, *sql: str) -> None:
    """Run SQL as a database owner would, with the append-only triggers off (PostgreSQL; on
    SQLite the seq trigger stays: it numbers only rows inserted without a seq)."""
    async with app.state.engine.begin() as conn:
        if backend.name == "postgres":
            for table in APPEND_ONLY:
                await conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"))
        for statement in sql:
            await conn.execute(text(statement))
        if backend.name == "postgres":
            for table in APPEND_ONLY:
                await conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only"))


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 12, 7, 8, 30, tzinfo=timezone(timedelta(hours=8))),
        datetime(2026, 12, 7, 0, 30, 1, 5),  # naive: UTC already
        datetime(1000, 1, 1, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_a_hashed_instant_is_written_as_every_hash_so_far_was_sealed(at):
    """The text sealed into every hash until now came from ``strftime``: a faster spelling must
    write the very same bytes, or stored hashes would stop verifying."""
    utc = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    assert proofs.timestamp(at) == utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def test_a_posted_transaction_carries_the_hash_of_its_content(app, client):
    rider = await citizen(client)
    [ride] = await credited_rides(rider, 1)
    async with session_scope(app.state.sessionmaker) as s:
        txn = await s.scalar(
            select(LedgerTransaction).where(LedgerTransaction.cause_id == ride["id"])
        )
        assert txn is not None and txn.seq is not None and txn.hash and txn.decision_hash
        entries = (
            await s.execute(
                text(
                    "SELECT account_id, amount, balance_after FROM ledger_entries "
                    "WHERE transaction_id = :t"
                ),
                {"t": txn.id},
            )
        ).all()
        content = dict(
            id=txn.id,
            ref=txn.ref,
            kind=txn.kind,
            cause_type=txn.cause_type,
            cause_id=txn.cause_id,
            user_id=txn.user_id,
            memo=txn.memo,
            created_at=txn.created_at,
            decision_hash=txn.decision_hash,
            entries=entries,
        )
    assert proofs.transaction_hash(**content) == txn.hash
    assert (
        proofs.transaction_hash(**{**content, "entries": [(a, m + 1, b) for a, m, b in entries]})
        != txn.hash
    )


async def test_checkpoints_chain_and_cover_every_transaction_once(app, client):
    rider = await citizen(client)
    await credited_rides(rider, 3)
    [first] = await cut(app)
    assert await cut(app) == []  # nothing new
    await credited_rides(rider, 2)
    [second] = await cut(app)
    assert first.prev_root is None and second.prev_root == first.root
    assert second.seq_from == first.seq_to + 1
    assert first.count == 3 and second.count == 2
    admin = await user_with_role(app, client, "admin")
    auditor = await user_with_role(app, client, "auditor")
    r = await auditor.get("/v1/admin/ledger/checkpoints", params={"limit": 1})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [c["root"] for c in body["items"]] == [first.root] and body["next_cursor"]
    r = await admin.get("/v1/admin/ledger/checkpoints", params={"cursor": body["next_cursor"]})
    assert [c["root"] for c in r.json()["items"]] == [second.root]
    assert (await rider.get("/v1/admin/ledger/checkpoints")).status_code == 403
    report = await live_audit(app)
    assert report["ok"] and report["transactions"] == 5 and report["checkpoints"] == 2
    lines = await export(auditor)
    assert verify(lines)["checkpoints"] == 2


async def test_concurrent_checkpointers_cut_each_range_once(app, client):
    rider = await citizen(client)
    await credited_rides(rider, 4)
    made = await asyncio.gather(*[cut(app) for _ in range(3)])
    async with session_scope(app.state.sessionmaker) as s:
        stored = (await s.scalars(select(LedgerCheckpoint))).all()
    assert len(stored) == 1 and sum(len(m) for m in made) == 1
    assert (await live_audit(app))["ok"]


async def test_an_export_range_and_a_bad_range(app, client):
    rider = await citizen(client)
    await credited_rides(rider, 3)
    await cut(app)
    admin = await user_with_role(app, client, "admin")
    r = await admin.get("/v1/admin/ledger/export", params={"from_seq": 5, "to_seq": 2})
    assert r.status_code == 422
    r = await admin.get("/v1/admin/ledger/export", params={"from_seq": 2})
    lines = r.text.splitlines()
    items = [json.loads(line) for line in lines]
    assert [i["type"] for i in items] == ["header", "transaction", "transaction"]
    assert verify(lines)["transactions"] == 2
    assert (await rider.get("/v1/admin/ledger/export")).status_code == 403


TAMPERINGS = {
    # an entry's amount changed: its transaction no longer matches its hash
    "edit_entry": (
        "UPDATE ledger_entries SET amount = amount + 100, balance_after = balance_after + 100 "
        "WHERE seq = (SELECT MIN(e.seq) FROM ledger_entries e JOIN ledger_transactions t "
        "ON t.id = e.transaction_id WHERE t.seq = {mid} AND e.amount > 0)",
        "does not match its hash",
    ),
    # the memo changed and the hash recomputed to match: the checkpoint's root catches it
    "edit_and_rehash": ("REHASH", "Merkle root"),
    # a whole transaction deleted (entries first)
    "delete": (
        "UPDATE records SET transaction_id = NULL WHERE transaction_id = {txn};"
        "DELETE FROM lot_draws WHERE lot_id IN "
        "(SELECT id FROM point_lots WHERE transaction_id = {txn});"
        "DELETE FROM point_lots WHERE transaction_id = {txn};"
        "DELETE FROM ledger_entries WHERE transaction_id = {txn};"
        "DELETE FROM ledger_transactions WHERE seq = {mid}",
        "Merkle root",
    ),
    # a transaction inserted inside a checkpointed range, with a hash that matches it
    "insert": ("INSERT", "Merkle root"),
    # the record a credit came from changed afterwards: its decision hash no longer matches
    "edit_record": (
        "UPDATE records SET reduction_g = reduction_g * 2 WHERE id = "
        "(SELECT cause_id FROM ledger_transactions WHERE seq = {mid})",
        "decision does not match",
    ),
    # a checkpoint's root rewritten
    "edit_checkpoint": (
        "UPDATE ledger_checkpoints SET root = '{fake}' WHERE seq_from = "
        "(SELECT MIN(seq_from) FROM ledger_checkpoints)",
        "root does not match",
    ),
}


async def _statements(app, how: str, mid: int, backend) -> list[str]:
    if how not in ("REHASH", "INSERT"):
        txn = f"(SELECT id FROM ledger_transactions WHERE seq = {mid})"
        return [s.format(mid=mid, txn=txn, fake="0" * 64) for s in how.split(";")]
    async with session_scope(app.state.sessionmaker) as s:
        t = await s.scalar(select(LedgerTransaction).where(LedgerTransaction.seq == mid))
        assert t is not None
        entries = (
            await s.execute(
                text(
                    "SELECT account_id, amount, balance_after FROM ledger_entries "
                    "WHERE transaction_id = :t"
                ),
                {"t": t.id},
            )
        ).all()
    content = dict(
        ref=t.ref,
        kind=t.kind,
        cause_type=t.cause_type,
        cause_id=t.cause_id,
        user_id=t.user_id,
        created_at=t.created_at,
        decision_hash=t.decision_hash,
        entries=entries,
    )
    if how == "REHASH":
        memo = {"note": "changed"}
        h = proofs.transaction_hash(id=t.id, memo=memo, **content)
        return [
            f"UPDATE ledger_transactions SET memo = '{json.dumps(memo)}', hash = '{h}' "
            f"WHERE seq = {mid}"
        ]
    forged_id = "f0f0f0f0-0000-4000-8000-000000000000"
    h = proofs.transaction_hash(
        id=forged_id,
        memo=None,
        **{**content, "ref": "forged", "decision_hash": None, "cause_id": None, "entries": []},
    )
    at = "'" + t.created_at.strftime("%Y-%m-%d %H:%M:%S.%f") + "'"
    if backend.name == "postgres":
        at += "::timestamptz"
    # the forger moves every later transaction up by one and takes seq ``mid``
    return [
        f"UPDATE ledger_transactions SET seq = -seq WHERE seq >= {mid}",
        "UPDATE ledger_transactions SET seq = 1 - seq WHERE seq < 0",
        "INSERT INTO ledger_transactions (id, ref, kind, cause_type, cause_id, user_id, memo, "
        f"created_at, seq, hash, decision_hash) VALUES ('{forged_id}', 'forged', '{t.kind}', "
        f"'{t.cause_type}', NULL, '{t.user_id}', NULL, {at}, {mid}, '{h}', NULL)",
    ]


@pytest.mark.ledger_tampered
@pytest.mark.parametrize("tampering", sorted(TAMPERINGS))
async def test_tampering_behind_the_services_back_is_caught(
    app, client, backend, database_url, tmp_path: Path, tampering: str
):
    rider = await citizen(client)
    await credited_rides(rider, 3)
    await cut(app)
    await credited_rides(rider, 2)
    await cut(app)
    auditor = await user_with_role(app, client, "auditor")
    before = await export(auditor)
    (tmp_path / "before.jsonl").write_text("".join(before))
    assert (await live_audit(app))["ok"]
    # The command line on the live database and on the export.
    ok = await cli(database_url, "audit")
    verified = await cli(database_url, "verify-export", str(tmp_path / "before.jsonl"))
    assert ok.returncode == 0, ok.stderr
    assert verified.returncode == 0, verified.stderr
    assert "OK, 5 transactions, 2 checkpoints" in verified.stdout

    how, expected = TAMPERINGS[tampering]
    await behind_the_back(app, backend, *await _statements(app, how, 2, backend))

    report = await live_audit(app)
    assert not report["ok"] and expected in report["problem"], report
    after = await export(auditor)
    (tmp_path / "after.jsonl").write_text("".join(after))
    with pytest.raises(Bad) as bad:
        verify(after)
    assert bad.value.where.startswith("line ")
    caught = await cli(database_url, "audit")
    refused = await cli(database_url, "verify-export", str(tmp_path / "after.jsonl"))
    assert caught.returncode != 0 and expected in caught.stderr, (caught.stdout, caught.stderr)
    assert refused.returncode != 0 and "after.jsonl: line " in refused.stderr, refused.stderr


@pytest.mark.ledger_tampered
async def test_the_commands_answer_a_shell_through_their_exit_code(
    app, client, backend, database_url, tmp_path: Path
):
    """The same commands as real processes, all at once: exit 0 and the summary on stdout for
    a good export, exit 1 and the reason on stderr for a tampered database and export."""
    rider = await citizen(client)
    await credited_rides(rider, 3)
    await cut(app)
    auditor = await user_with_role(app, client, "auditor")
    (tmp_path / "before.jsonl").write_text("".join(await export(auditor)))
    how, expected = TAMPERINGS["edit_entry"]
    await behind_the_back(app, backend, *await _statements(app, how, 2, backend))
    (tmp_path / "after.jsonl").write_text("".join(await export(auditor)))
    caught, verified, refused = await asyncio.gather(
        process(database_url, "audit"),
        process(database_url, "verify-export", str(tmp_path / "before.jsonl")),
        process(database_url, "verify-export", str(tmp_path / "after.jsonl")),
    )
    assert caught.returncode == 1 and expected in caught.stderr, (caught.stdout, caught.stderr)
    assert verified.returncode == 0, verified.stderr
    assert "OK, 3 transactions, 1 checkpoints" in verified.stdout
    assert refused.returncode == 1 and "after.jsonl: line " in refused.stderr, refused.stderr


@pytest.mark.ledger_tampered
async def test_a_rewrite_of_every_hash_and_checkpoint_is_caught_against_an_earlier_export(
    app, client, backend
):
    rider = await citizen(client)
    await credited_rides(rider, 3)
    await cut(app)
    auditor = await user_with_role(app, client, "auditor")
    before = await export(auditor)
    # The owner changes a memo, re-hashes it, deletes the checkpoints and cuts new ones.
    [statement] = await _statements(app, "REHASH", 2, backend)
    await behind_the_back(app, backend, statement, "DELETE FROM ledger_checkpoints")
    await cut(app)
    assert (await live_audit(app))["ok"]  # consistent with itself…
    after = await export(auditor)
    assert verify(after)["ok"]
    with pytest.raises(Bad, match="differs from the trusted export"):
        verify(after, trusted_checkpoints(before))  # …but not with what an auditor kept
