"""Seed a database with N credited records *and their ledger*, as the service writes them.

Everything is generated inside PostgreSQL (``generate_series``, ``INSERT … SELECT``): a plan
table holds one row per record with everything derived from it (ids, citizen, instant, the
calculation, points, running balances), and each table of the schema gets its rows from the
plan in its own function below. The rows are those the service writes for a credited record
(``app/services/records.py`` → ``ledger.credit_many``):

- ``records``: status ``credited``, the methodology version in force, the breakdown and
  ``content_hash`` the service computes, ``transaction_id`` set;
- ``ledger_transactions``: ``record:<id>:credit``, kind ``credit``;
- ``ledger_entries``: the issuance shard's leg then the citizen's available leg, each with its
  running ``balance_after``, in ``seq`` order;
- ``point_lots``: one lot per credit, ``remaining = amount``, expiring ``points_ttl_days`` after;
- ``accounts``: the citizen's available/held/debt accounts and the issuance shards (added to
  whatever they held before);
- ``daily_usage``: points per citizen, methodology and local day.

So ``GET /v1/admin/ledger/check`` stays clean. The calculations come from the methodologies'
own code (a few templates per type, evaluated in Python), so values, breakdowns and hashes are
what the service would have stored.

A new table maintained from records or postings (e.g. a per-citizen summary) is one more
function ``seed_<table>(conn, ctx)`` and one line in ``TABLES``.

Big tables are filled without their indexes and constraints, which are rebuilt afterwards
(much faster than maintaining them row by row); the service must not run meanwhile.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from app.rules import registry
from app.rules.base import Context, params_from_json, points_for, resolve
from app.services import ledger

PLAN = "bench_seed_plan"
CITIZENS = "bench_seed_citizens"
TEMPLATES = "bench_seed_templates"
REGIONS = ("CN-SX", "CN-GD")
NEWEST_DAYS_AGO = 8  # seeded activity ends before the late window, clear of live traffic
BYTES_PER_RECORD = 3200  # 1 M records measured 2.9 GB of database, plus the plan table

# Activities of 8 minutes, varied; every one plausible and under every daily cap.
VARIANTS: list[tuple[str, dict[str, Any]]] = [
    *[("transit.metro", {"distance_km": 3 + i, "duration_min": 8}) for i in range(4)],
    *[("transit.bus", {"distance_km": 2 + i / 2, "duration_min": 8}) for i in range(3)],
    *[("cycling", {"distance_km": 1.5 + i / 2, "duration_min": 8}) for i in range(3)],
    *[("walking", {"steps": 600 + 50 * i, "duration_min": 8}) for i in range(4)],
]


@dataclass
class Ctx:
    """What every table function needs to know about the seed."""

    records: int
    citizens: int
    start: datetime  # first record's instant
    step_s: int  # seconds between consecutive records
    password_hash: str
    points_ttl_days: int
    timezone: str


def _canonical(value: Any) -> Any:
    from app.services.records.intake import _canonical as canonical

    return canonical(value)


async def _templates(conn: asyncpg.Connection, at: datetime) -> list[tuple[Any, ...]]:
    """One row per (region, variant): the record as the service would compute it."""
    rows = []
    versions = {}
    for r in await conn.fetch(
        "SELECT DISTINCT ON (code) id, code, version, params, params_hash FROM "
        "methodology_versions WHERE effective_from <= $1 ORDER BY code, version DESC",
        at,
    ):
        versions[r["code"]] = r
    t = 0
    for region in REGIONS:
        for code, raw in VARIANTS:
            m = registry.get(code)
            assert m is not None, code
            if code not in versions:
                raise RuntimeError(f"no version of {code}: start the service once before seeding")
            v = versions[code]
            params = params_from_json(m, v["params"])
            data = m.Input.model_validate(raw)
            result = m.evaluate(data, params, Context(region=region, trusted=False))
            if result.reasons or result.needs_review:
                raise ValueError(f"seed variant {code} {raw} is not credited: {result.reasons}")
            points = points_for(result.reduction_g, resolve(params, region))
            cap = resolve(params, region).daily_cap_points
            if points <= 0 or (cap is not None and points > cap):
                raise ValueError(f"seed variant {code} {raw} earns {points} points (cap {cap})")
            breakdown = {
                **result.breakdown,
                "methodology": code,
                "version": v["version"],
                "params_hash": v["params_hash"],
                "trusted_source": False,
            }
            # content_hash = sha256 of {"data":…,"occurred_at":"…","type":"…"} (sorted keys)
            body = json.dumps(
                {
                    "type": code,
                    "occurred_at": "@OCCURRED_AT@",
                    "data": _canonical(data.model_dump()),
                },
                sort_keys=True,
                separators=(",", ":"),
            )
            head, tail = body.split("@OCCURRED_AT@")
            duration = m.duration(data)
            rows.append(
                (
                    t,
                    region,
                    code,
                    json.dumps(_canonical(data.model_dump(exclude_none=True))),
                    head,
                    tail,
                    result.reduction_g,
                    points,
                    json.dumps(breakdown),
                    v["id"],
                    v["version"],
                    v["params_hash"],
                    int(duration.total_seconds()) if duration else 0,
                )
            )
            t += 1
    return rows


async def _prepare(conn: asyncpg.Connection, ctx: Ctx) -> list[str]:
    """Citizens (ids made here so the issuance shard is the service's own function), the
    templates, and the plan: one row per record. Returns the seeded citizens' ids."""
    ids = [str(uuid.uuid4()) for _ in range(ctx.citizens)]
    assert ledger.platform_account("issuance", ids[0]).startswith("platform:issuance:")
    await conn.execute(f"""
        DROP TABLE IF EXISTS {CITIZENS}, {TEMPLATES}, {PLAN};
        CREATE UNLOGGED TABLE {CITIZENS} (k int PRIMARY KEY, id text, email text,
            region text, issuance text);
        CREATE UNLOGGED TABLE {TEMPLATES} (t int PRIMARY KEY, region text, type text,
            data text, hash_head text, hash_tail text, reduction_g bigint, points bigint,
            breakdown text, version_id text, version int, params_hash text, duration_s int);
    """)
    await conn.copy_records_to_table(
        CITIZENS,
        records=[
            (
                k,
                i,
                f"citizen-{k}-{zlib.crc32(i.encode()):08x}@seed.example.cn",
                REGIONS[k % len(REGIONS)],
                ledger.platform_account("issuance", i),
            )
            for k, i in enumerate(ids)
        ],
    )
    templates = await _templates(conn, ctx.start)
    await conn.copy_records_to_table(TEMPLATES, records=templates)
    per_region = len(VARIANTS)
    await conn.execute(
        f"""
        CREATE UNLOGGED TABLE {PLAN} AS
        WITH base AS (
            SELECT g, g % {ctx.citizens} AS k,
                   $1::timestamptz + g * interval '{ctx.step_s} seconds' AS occurred_at
            FROM generate_series(0, {ctx.records - 1}::bigint) AS g
        ), rows AS (
            SELECT b.g, c.id AS user_id, c.region, c.issuance,
                   'user:' || c.id || ':available' AS available,
                   t.type, t.data, t.hash_head, t.hash_tail, t.reduction_g, t.points,
                   t.breakdown, t.version_id, t.version, t.params_hash, t.duration_s,
                   b.occurred_at, b.occurred_at + interval '5 minutes' AS received_at,
                   gen_random_uuid()::text AS record_id,
                   gen_random_uuid()::text AS txn_id,
                   gen_random_uuid()::text AS lot_id
            FROM base b
            JOIN {CITIZENS} c ON c.k = b.k
            JOIN {TEMPLATES} t
              ON t.t = (b.k % {len(REGIONS)}) * {per_region}
                       + (b.g / {ctx.citizens} + b.k) % {per_region}
        )
        SELECT r.*,
               sum(r.points) OVER (PARTITION BY r.user_id ORDER BY r.g) AS available_after,
               coalesce(a.balance, 0)
                 - sum(r.points) OVER (PARTITION BY r.issuance ORDER BY r.g) AS issuance_after
        FROM rows r LEFT JOIN accounts a ON a.id = r.issuance
        ORDER BY r.g
    """,
        ctx.start,
    )
    return ids


# One function per table ------------------------------------------------------------------


async def seed_users(conn: asyncpg.Connection, ctx: Ctx) -> None:
    await conn.execute(
        f"""INSERT INTO users (id, email, password_hash, role, display_name, region,
                merchant_id, is_active, created_at)
            SELECT id, email, $1, 'citizen', 'Citizen ' || k, region, NULL, true,
                   $2::timestamptz - interval '1 day'
            FROM {CITIZENS} ORDER BY k""",
        ctx.password_hash,
        ctx.start,
    )


async def seed_ledger_transactions(conn: asyncpg.Connection, ctx: Ctx) -> None:
    await conn.execute(f"""
        INSERT INTO ledger_transactions (id, ref, kind, cause_type, cause_id, user_id, memo,
            created_at)
        SELECT txn_id, 'record:' || record_id || ':credit', 'credit', 'record', record_id,
               user_id, NULL, received_at
        FROM {PLAN} ORDER BY g""")


async def seed_records(conn: asyncpg.Connection, ctx: Ctx) -> None:
    await conn.execute(f"""
        INSERT INTO records (id, user_id, client_event_id, content_hash, type, occurred_at,
            received_at, data, source, partner_id, region, local_day, span_start, span_end,
            status, reasons, reduction_g, points, version_id, version, params_hash,
            breakdown, transaction_id, decided_by, decided_at, decision_note, reversed_at)
        SELECT record_id, user_id, 'seed-' || g, encode(sha256(convert_to(hash_head
                   || to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
                   || '+00:00' || hash_tail, 'UTF8')), 'hex'),
               type, occurred_at, received_at, data::json, 'app', NULL, region,
               to_char(occurred_at AT TIME ZONE '{ctx.timezone}', 'YYYY-MM-DD'),
               CASE WHEN duration_s > 0
                    THEN occurred_at - duration_s * interval '1 second' END,
               CASE WHEN duration_s > 0 THEN occurred_at END,
               'credited', '[]'::json, reduction_g, points, version_id, version, params_hash,
               breakdown::json, txn_id, NULL, NULL, NULL, NULL
        FROM {PLAN} ORDER BY g""")


async def seed_ledger_entries(conn: asyncpg.Connection, ctx: Ctx) -> None:
    # The issuance leg first, then the citizen's, as credit_many writes them: seq follows.
    await conn.execute(f"""
        INSERT INTO ledger_entries (transaction_id, account_id, amount, balance_after,
            created_at)
        SELECT txn_id, account_id, amount, balance_after, received_at FROM (
            SELECT g, 0 AS leg, txn_id, issuance AS account_id, -points AS amount,
                   issuance_after AS balance_after, received_at FROM {PLAN}
            UNION ALL
            SELECT g, 1, txn_id, available, points, available_after, received_at FROM {PLAN}
        ) legs ORDER BY g, leg""")


async def seed_point_lots(conn: asyncpg.Connection, ctx: Ctx) -> None:
    await conn.execute(f"""
        INSERT INTO point_lots (id, user_id, transaction_id, amount, remaining, expires_at,
            created_at)
        SELECT lot_id, user_id, txn_id, points, points,
               received_at + interval '{ctx.points_ttl_days} days', received_at
        FROM {PLAN} ORDER BY g""")


async def seed_accounts(conn: asyncpg.Connection, ctx: Ctx) -> None:
    await conn.execute(f"""
        INSERT INTO accounts (id, kind, owner_id, balance, created_at)
        SELECT 'user:' || user_id || ':' || kind, kind, user_id,
               CASE kind WHEN 'available' THEN total ELSE 0 END, first_at
        FROM (SELECT user_id, sum(points) AS total, min(received_at) AS first_at
              FROM {PLAN} GROUP BY user_id) per_user
        CROSS JOIN (VALUES ('available'), ('held'), ('debt')) AS kinds(kind)""")
    await conn.execute(f"""
        INSERT INTO accounts (id, kind, owner_id, balance, created_at)
        SELECT issuance, 'issuance', NULL, -sum(points), min(received_at)
        FROM {PLAN} GROUP BY issuance
        ON CONFLICT (id) DO UPDATE SET balance = accounts.balance + excluded.balance""")


async def seed_daily_usage(conn: asyncpg.Connection, ctx: Ctx) -> None:
    await conn.execute(f"""
        INSERT INTO daily_usage (user_id, code, day, points)
        SELECT user_id, type, to_char(occurred_at AT TIME ZONE '{ctx.timezone}', 'YYYY-MM-DD'),
               sum(points)
        FROM {PLAN} GROUP BY 1, 2, 3""")


async def seed_account_summaries(conn: asyncpg.Connection, ctx: Ctx) -> None:
    # What the posting path keeps per citizen: every seeded point is still available.
    await conn.execute(f"""
        INSERT INTO account_summaries (user_id, available, held, debt, lifetime_points,
            lifetime_grams)
        SELECT user_id, sum(points), 0, 0, sum(points), sum(reduction_g)
        FROM {PLAN} GROUP BY user_id""")


Seeder = Callable[[asyncpg.Connection, Ctx], Awaitable[None]]

# In an order that satisfies the foreign keys.
TABLES: list[tuple[str, Seeder]] = [
    ("users", seed_users),
    ("ledger_transactions", seed_ledger_transactions),
    ("records", seed_records),
    ("ledger_entries", seed_ledger_entries),
    ("point_lots", seed_point_lots),
    ("accounts", seed_accounts),
    ("daily_usage", seed_daily_usage),
    ("account_summaries", seed_account_summaries),
]

# Read into the operating system's cache once seeded (``pg_prewarm``): what the measured
# requests read, as a primary that has been serving them holds it. ``VACUUM`` has just read
# every table through, leaving their indexes cold.
WARM = ["records", "point_lots", "daily_usage", "accounts", "account_summaries"]

# Filled without indexes and constraints, rebuilt afterwards.
BIG_TABLES = ["records", "ledger_transactions", "ledger_entries", "point_lots", "daily_usage"]


async def _drop_indexes(conn: asyncpg.Connection, tables: list[str]) -> list[str]:
    """Drop the indexes, primary/unique keys and foreign keys on or into ``tables``; returns
    the statements that recreate them, in a valid order."""
    constraints = await conn.fetch(
        """SELECT c.conrelid::regclass::text AS tbl, c.conname::text, c.contype::text,
                  pg_get_constraintdef(c.oid) AS def
           FROM pg_constraint c
           WHERE c.contype IN ('p', 'u', 'f')
             AND (c.conrelid = ANY($1::regclass[]) OR c.confrelid = ANY($1::regclass[]))""",
        tables,
    )
    owned = {r["conname"] for r in constraints if r["contype"] in "pu"}
    indexes = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes "
        "WHERE schemaname = current_schema() AND tablename = ANY($1::text[])",
        tables,
    )
    plain = [r for r in indexes if r["indexname"] not in owned]
    fks = [r for r in constraints if r["contype"] == "f"]
    keys = [r for r in constraints if r["contype"] in "pu" and r["tbl"] in tables]
    for r in fks + keys:
        await conn.execute(f'ALTER TABLE {r["tbl"]} DROP CONSTRAINT "{r["conname"]}"')
    for r in plain:
        await conn.execute(f'DROP INDEX "{r["indexname"]}"')
    return (
        [r["indexdef"] for r in plain]
        + [f'ALTER TABLE {r["tbl"]} ADD CONSTRAINT "{r["conname"]}" {r["def"]}' for r in keys]
        + [f'ALTER TABLE {r["tbl"]} ADD CONSTRAINT "{r["conname"]}" {r["def"]}' for r in fks]
    )


def check_disk(data_directory: str, records: int) -> None:
    """Refuse to start a seed that would fill the disk (needs the server's data directory on
    this machine, as in the benchmark's setup)."""
    try:
        free = shutil.disk_usage(data_directory).free
    except OSError:
        return  # a remote server: its operator knows
    need = records * BYTES_PER_RECORD
    if free < need * 1.5:
        raise SystemExit(
            f"seeding {records:,} records needs about {need / 1e9:.0f} GB; "
            f"{free / 1e9:.0f} GB are free where PostgreSQL keeps its data"
        )


async def seed(
    dsn: str,
    *,
    records: int,
    citizens: int,
    password_hash: str,
    points_ttl_days: int = 365,
    timezone: str = "Asia/Shanghai",
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Seed ``records`` credited records over ``citizens`` new citizens. Returns the seeded
    citizens' ids (in order) and the time each step took."""
    if citizens < 1 or records < citizens:
        raise ValueError("need at least one record per citizen")
    now = datetime.now(UTC).replace(microsecond=0)
    newest = now - timedelta(days=NEWEST_DAYS_AGO)
    span_s = int(timedelta(days=points_ttl_days - NEWEST_DAYS_AGO - 65).total_seconds())
    step_s = max(1, span_s // records)
    if step_s * citizens < 86400:
        raise ValueError(
            f"{records:,} records over {citizens:,} citizens would put two records of a citizen "
            "on one day: seed more citizens"
        )
    ctx = Ctx(
        records=records,
        citizens=citizens,
        start=newest - timedelta(seconds=step_s * records),
        step_s=step_s,
        password_hash=password_hash,
        points_ttl_days=points_ttl_days,
        timezone=timezone,
    )
    timings: dict[str, float] = {}
    conn = await asyncpg.connect(dsn, command_timeout=None)
    try:
        check_disk(await conn.fetchval("SHOW data_directory"), records)
        await conn.execute(
            "SET synchronous_commit = off; SET work_mem = '512MB'; "
            "SET maintenance_work_mem = '1GB'; SET max_parallel_maintenance_workers = 2"
        )
        t0 = time.perf_counter()
        ids = await _prepare(conn, ctx)
        timings["plan"] = time.perf_counter() - t0
        log(f"  plan of {records:,} records over {citizens:,} citizens: {timings['plan']:.1f} s")
        t0 = time.perf_counter()
        rebuild = await _drop_indexes(conn, BIG_TABLES)
        for table, fill in TABLES:
            t1 = time.perf_counter()
            async with conn.transaction():
                await fill(conn, ctx)
            timings[table] = time.perf_counter() - t1
            log(f"  {table}: {timings[table]:.1f} s")
        t1 = time.perf_counter()
        for statement in rebuild:
            await conn.execute(statement)
        timings["indexes_and_constraints"] = time.perf_counter() - t1
        log(f"  indexes and constraints: {timings['indexes_and_constraints']:.1f} s")
        await conn.execute(f"DROP TABLE {PLAN}, {CITIZENS}, {TEMPLATES}")
        t1 = time.perf_counter()
        await conn.execute("VACUUM (ANALYZE)")
        timings["vacuum_analyze"] = time.perf_counter() - t1
        log(f"  vacuum analyze: {timings['vacuum_analyze']:.1f} s")
        # The bulk load's tens of gigabytes written back now, not by the checkpointer and the
        # kernel's writeback while the seeded figures are measured.
        t1 = time.perf_counter()
        await conn.execute("CHECKPOINT")
        timings["checkpoint"] = time.perf_counter() - t1
        log(f"  checkpoint: {timings['checkpoint']:.1f} s")
        t1 = time.perf_counter()
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        blocks = await conn.fetchval(
            """SELECT coalesce(sum(pg_prewarm(i.indexrelid::regclass, 'read')), 0)
               FROM pg_index i WHERE i.indrelid = ANY($1::regclass[])""",
            WARM,
        )
        blocks += await conn.fetchval("SELECT pg_prewarm('account_summaries'::regclass, 'read')")
        timings["prewarm"] = time.perf_counter() - t1
        log(
            f"  indexes read into the cache: {blocks * 8 / 1024:.0f} MB "
            f"in {timings['prewarm']:.1f} s"
        )
        timings["total"] = time.perf_counter() - t0 + timings["plan"]
        size = await conn.fetchval("SELECT pg_database_size(current_database())")
    finally:
        await conn.close()
    return {"citizen_ids": ids, "seconds": timings, "database_bytes": int(size)}
