"""``make bench``: throughput and latency of Tanhui on PostgreSQL + Redis, next to pgbench.

Starts ``tanhui serve --workers N`` on a fresh database, creates citizens, drives the API with
an asyncio load generator and prints, in one run: pgbench's tpcb-like TPS on the same
PostgreSQL, single-record ingest, batch ingest (100 per request), ``GET /v1/account``, one hot
incentive raced by 1 000 redeemers, latency percentiles, RSS per worker, and the ratios to
pgbench. Everything it creates (databases, Redis keys) is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from app.config import Settings
from app.migrate import upgrade
from app.security import encode_token, hash_password, sign

PG_URL = os.environ.get("TANHUI_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TANHUI_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
SECRET = "bench-" + secrets.token_hex(24)
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Phase:
    name: str
    unit: str
    count: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def pg_dsn(database: str) -> str:
    return PG_URL.rsplit("/", 1)[0] + "/" + database


async def pg_exec(sql: str, database: str | None = None) -> None:
    conn = await asyncpg.connect(pg_dsn(database) if database else PG_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def pgbench_tps(seconds: int, clients: int) -> float:
    name = f"tanhui_pgbench_{secrets.token_hex(4)}"
    asyncio.run(pg_exec(f'CREATE DATABASE "{name}"'))
    host = re.search(r"@([^:/]+)", PG_URL)
    port = re.search(r":(\d+)/", PG_URL)
    user = re.search(r"://([^@:]+)", PG_URL)
    conn = [
        "-h",
        host.group(1) if host else "127.0.0.1",
        "-p",
        port.group(1) if port else "5432",
        "-U",
        user.group(1) if user else "postgres",
    ]
    try:
        subprocess.run(
            ["pgbench", *conn, "-i", "-s", "10", "-q", name], check=True, capture_output=True
        )
        out = subprocess.run(
            [
                "pgbench",
                *conn,
                "-c",
                str(clients),
                "-j",
                "2",
                "-T",
                str(seconds),
                "--no-vacuum",
                name,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        match = re.search(r"tps = ([\d.]+)", out)
        return float(match.group(1)) if match else 0.0
    finally:
        asyncio.run(pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def create_users(
    database: str, n: int, role: str = "citizen", merchant_id: str | None = None
) -> list[str]:
    """Citizens straight into the table (one shared argon2 hash): hashing thousands of
    passwords would measure argon2, not the service."""
    ids = [str(uuid.uuid4()) for _ in range(n)]
    pw = hash_password("Bench-password-2026")
    conn = await asyncpg.connect(pg_dsn(database))
    try:
        await conn.executemany(
            "INSERT INTO users (id, email, password_hash, role, display_name, region, "
            "merchant_id, is_active, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, true, now())",
            [
                (
                    i,
                    f"{role}-{i[:12]}@bench.example.cn",
                    pw,
                    role,
                    f"Bench {i[:6]}",
                    "CN-SX" if k % 2 else "CN-GD",
                    merchant_id,
                )
                for k, i in enumerate(ids)
            ],
        )
    finally:
        await conn.close()
    return ids


async def seed_records(database: str, n: int) -> float:
    """``n`` stored records spread over existing users, as one set-based INSERT."""
    started = time.perf_counter()
    conn = await asyncpg.connect(pg_dsn(database))
    try:
        await conn.execute("SET synchronous_commit = off")
        await conn.execute(f"""
            WITH u AS (SELECT id, row_number() OVER () - 1 AS k FROM users
                       WHERE role = 'citizen'),
                 c AS (SELECT count(*) AS n FROM u),
                 v AS (SELECT id, version, params_hash FROM methodology_versions
                       WHERE code = 'walking' AND version = 1)
            INSERT INTO records (id, user_id, client_event_id, content_hash, type, occurred_at,
                received_at, data, source, region, local_day, status, reasons, reduction_g,
                points, version_id, version, params_hash, breakdown)
            SELECT gen_random_uuid()::text, u.id, 'seed-' || g, md5(g::text), 'walking',
                   now() - interval '30 days' - (g % 86400) * interval '1 second',
                   now() - interval '30 days', '{{"steps": 1000}}'::json, 'app', 'CN-SX',
                   to_char(now() - interval '30 days', 'YYYY-MM-DD'), 'credited', '[]'::json,
                   20, 0, v.id, v.version, v.params_hash, '{{}}'::json
            FROM generate_series(1, {n}) AS g
            CROSS JOIN c CROSS JOIN v
            JOIN u ON u.k = g % c.n
        """)
        await conn.execute("ANALYZE records")
    finally:
        await conn.close()
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(env: dict[str, str], workers: int, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as s:
        for _ in range(200):
            with contextlib.suppress(aiohttp.ClientError):
                async with s.get(f"{url}/readyz") as r:
                    if r.status == 200:
                        return
            if proc.poll() is not None:
                raise RuntimeError("the server exited")
            await asyncio.sleep(0.2)
    raise RuntimeError("the server did not become ready")


def worker_rss_mb(server_pid: int) -> list[float]:
    out = []
    for status in Path("/proc").glob("[0-9]*/status"):
        with contextlib.suppress(OSError):
            text = status.read_text()
            ppid = int(re.search(r"PPid:\s+(\d+)", text).group(1))  # type: ignore[union-attr]
            if ppid == server_pid and "VmRSS" in text:
                kb = int(re.search(r"VmRSS:\s+(\d+)", text).group(1))  # type: ignore[union-attr]
                out.append(round(kb / 1024, 1))
    return sorted(out)


class Rides:
    """Metro rides that never overlap and stay under the daily cap: per citizen, four a day
    going back from an hour ago, 30 minutes apart."""

    def __init__(self, users: list[str]) -> None:
        self.users = users
        self.next = dict.fromkeys(users, 0)
        self.i = 0
        self.now = datetime.now(UTC) - timedelta(hours=1)

    def one(self) -> tuple[str, dict[str, Any]]:
        user = self.users[self.i % len(self.users)]
        self.i += 1
        k = self.next[user]
        self.next[user] = k + 1
        at = self.now - timedelta(days=(k // 4) % 6, minutes=30 * (k % 4) + k // 24)
        return user, {
            "client_event_id": f"b-{k}-{uuid.uuid4().hex[:8]}",
            "type": "transit.metro",
            "occurred_at": at.isoformat(),
            "data": {"distance_km": 8 + k % 10, "duration_min": 20},
        }


async def drive(name: str, unit: str, seconds: float, concurrency: int, request: Any) -> Phase:
    """Run ``request(session) -> (units, ok)`` from ``concurrency`` tasks for ``seconds``."""
    phase = Phase(name, unit)
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()

        async def loop() -> None:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                units, ok = await request(session)
                phase.latencies.append(time.perf_counter() - t0)
                if ok:
                    phase.count += units
                else:
                    phase.errors += 1

        await asyncio.gather(*[loop() for _ in range(concurrency)])
        phase.seconds = time.perf_counter() - started
    return phase


def bearer(settings: Settings, user_id: str, role: str = "citizen") -> dict[str, str]:
    claims = encode_token(
        settings, sub=user_id, role=role, typ="access", lifetime=timedelta(hours=2)
    )
    return {"Authorization": f"Bearer {sign(settings, claims)}"}


async def measure(
    args: argparse.Namespace, url: str, settings: Settings, users: list[str], admin_id: str
) -> list[Phase]:
    tokens = {u: bearer(settings, u) for u in users}
    rides = Rides(users)
    phases = []

    async def single(session: aiohttp.ClientSession) -> tuple[int, bool]:
        user, body = rides.one()
        async with session.post(f"{url}/v1/events", json=body, headers=tokens[user]) as r:
            await r.read()
            return 1, r.status in (200, 201)

    phases.append(
        await drive("single-record ingest", "records/s", args.duration, args.concurrency, single)
    )

    async def batch(session: aiohttp.ClientSession) -> tuple[int, bool]:
        # One citizen's day from a step counter: 100 walking records at distinct minutes.
        user = users[rides.i % len(users)]
        rides.i += 1
        base = datetime.now(UTC) - timedelta(hours=2)
        events = [
            {
                "client_event_id": uuid.uuid4().hex,
                "type": "walking",
                "occurred_at": (base - timedelta(minutes=i)).isoformat(),
                "data": {"steps": 500 + i},
            }
            for i in range(100)
        ]
        async with session.post(
            f"{url}/v1/events/batch", json={"events": events}, headers=tokens[user]
        ) as r:
            await r.read()
            return 100, r.status == 200

    phases.append(
        await drive(
            "batch ingest (100/request)",
            "records/s",
            args.duration,
            max(2, args.concurrency // 4),
            batch,
        )
    )

    cycle = {"i": 0}

    async def account(session: aiohttp.ClientSession) -> tuple[int, bool]:
        cycle["i"] += 1
        user = users[cycle["i"] % len(users)]
        async with session.get(f"{url}/v1/account", headers=tokens[user]) as r:
            await r.read()
            return 1, r.status == 200

    phases.append(
        await drive("GET /v1/account", "requests/s", args.duration, args.concurrency, account)
    )
    phases.append(await hot_incentive(url, settings, users, admin_id, args.redeemers))
    return phases


async def hot_incentive(
    url: str, settings: Settings, users: list[str], admin_id: str, redeemers: int
) -> Phase:
    admin = bearer(settings, admin_id, "admin")
    stock = 100
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as s:
        async with s.post(
            f"{url}/v1/admin/merchants", json={"name": "Hot kiosk"}, headers=admin
        ) as r:
            merchant = await r.json()
        async with s.post(
            f"{url}/v1/merchant/incentives",
            headers=admin,
            json={
                "merchant_id": merchant["id"],
                "title": "Free metro ride",
                "points_cost": 10,
                "stock": stock,
            },
        ) as r:
            incentive = await r.json()
        people = users[:redeemers]
        # Untimed: every redeemer can afford it.
        walk = datetime.now(UTC) - timedelta(hours=3)

        async def earn(u: str) -> None:
            async with s.post(
                f"{url}/v1/events",
                headers=bearer(settings, u),
                json={
                    "client_event_id": f"hot-{u}",
                    "type": "walking",
                    "occurred_at": walk.isoformat(),
                    "data": {"steps": 1000},
                },
            ) as r:
                await r.read()

        await asyncio.gather(*[earn(u) for u in people])
        phase = Phase("hot incentive, 1 000 redeemers", "redemptions/s")
        started = time.perf_counter()

        async def redeem(u: str) -> int:
            t0 = time.perf_counter()
            async with s.post(
                f"{url}/v1/redemptions",
                json={"incentive_id": incentive["id"]},
                headers={**bearer(settings, u), "Idempotency-Key": uuid.uuid4().hex},
            ) as r:
                await r.read()
                phase.latencies.append(time.perf_counter() - t0)
                return r.status

        statuses = await asyncio.gather(*[redeem(u) for u in people])
        phase.seconds = time.perf_counter() - started
        phase.count = statuses.count(201)
        phase.errors = sum(1 for st in statuses if st not in (201, 409))
        phase.extra = {
            "stock": stock,
            "successes": statuses.count(201),
            "refused_409": statuses.count(409),
            "attempts": len(people),
        }
    return phase


def report(
    args: argparse.Namespace, tps: float, phases: list[Phase], rss: list[float], seeded: int
) -> dict[str, Any]:
    rows = []
    print()
    print(
        f"Tanhui bench — {args.workers} workers, concurrency {args.concurrency}, "
        f"{args.duration:.0f} s per phase, {seeded:,} seeded records"
    )
    print(
        f"{'figure':<34}{'rate':>12}  {'unit':<14}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'errors':>8}{'/pgbench':>10}"
    )
    print(f"{'pgbench tpcb-like (same server)':<34}{tps:>12.1f}  {'TPS':<14}")
    for p in phases:
        ratio = p.rate / tps if tps else 0
        print(
            f"{p.name:<34}{p.rate:>12.1f}  {p.unit:<14}{p.pct(50):>9.1f}{p.pct(99):>9.1f}"
            f"{p.errors:>8}{ratio:>10.2f}"
        )
        rows.append(
            {
                "name": p.name,
                "rate": round(p.rate, 1),
                "unit": p.unit,
                "p50_ms": round(p.pct(50), 1),
                "p99_ms": round(p.pct(99), 1),
                "errors": p.errors,
                "ratio_to_pgbench": round(ratio, 3),
                **p.extra,
            }
        )
    hot = phases[-1].extra
    print(
        f"hot incentive: {hot['successes']} successes for stock {hot['stock']} "
        f"({hot['refused_409']} refused with 409) — "
        f"{'OK' if hot['successes'] == hot['stock'] else 'OVERSOLD OR UNDERSOLD'}"
    )
    print(f"RSS per worker (MB): {rss}")
    return {
        "when": datetime.now(UTC).isoformat(),
        "workers": args.workers,
        "concurrency": args.concurrency,
        "duration_s": args.duration,
        "seeded_records": seeded,
        "pgbench_tps": round(tps, 1),
        "phases": rows,
        "rss_mb_per_worker": rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--users", type=int, default=4000)
    parser.add_argument("--redeemers", type=int, default=1000)
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument(
        "--seed-records",
        type=int,
        default=0,
        help="store this many records before measuring (e.g. 10000000)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    args.redeemers = min(args.redeemers, args.users)

    print("pgbench tpcb-like on the same PostgreSQL …", flush=True)
    tps = pgbench_tps(args.pgbench_seconds, 16)
    database = f"tanhui_bench_{secrets.token_hex(4)}"
    db_url = "postgresql+asyncpg://" + pg_dsn(database).split("://", 1)[1]
    prefix = f"tanhui-bench:{secrets.token_hex(4)}:"
    asyncio.run(pg_exec(f'CREATE DATABASE "{database}"'))
    proc = None
    try:
        upgrade(db_url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TANHUI_")}
        env.update(
            {
                "TANHUI_ENV": "production",
                "TANHUI_DATABASE_URL": db_url,
                "TANHUI_REDIS_URL": REDIS_URL,
                "TANHUI_REDIS_PREFIX": prefix,
                "TANHUI_JWT_SECRET": SECRET,
                "TANHUI_LOG_LEVEL": "WARNING",
                "TANHUI_RATE_LIMIT_AUTH_PER_MINUTE": "0",
                "TANHUI_RATE_LIMIT_CITIZEN_PER_MINUTE": "0",
                "TANHUI_RATE_LIMIT_PARTNER_PER_MINUTE": "0",
            }
        )
        settings = Settings(database_url=db_url, jwt_secret=SECRET, env="production")
        print(f"creating {args.users} citizens …", flush=True)
        users = asyncio.run(create_users(database, args.users))
        admin_id = asyncio.run(create_users(database, 1, "admin"))[0]
        seeded = 0
        if args.seed_records:
            print(f"seeding {args.seed_records:,} records …", flush=True)
            took = asyncio.run(seed_records(database, args.seed_records))
            seeded = args.seed_records
            print(f"  seeded in {took:.0f} s", flush=True)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = start_server(env, args.workers, port)
        asyncio.run(wait_ready(url, proc))
        print("measuring …", flush=True)
        phases = asyncio.run(measure(args, url, settings, users, admin_id))
        rss = worker_rss_mb(proc.pid)
        result = report(args, tps, phases, rss, seeded)
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / f"bench-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
        out.write_text(json.dumps(result, indent=2))
        print(f"written to {out}")
    finally:
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        if not args.keep:
            asyncio.run(pg_exec(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        _drop_redis_prefix(prefix)


def _drop_redis_prefix(prefix: str) -> None:
    import redis

    r = redis.Redis.from_url(REDIS_URL)
    with contextlib.suppress(redis.RedisError):
        for key in r.scan_iter(match=prefix + "*", count=1000):
            r.delete(key)


if __name__ == "__main__":
    main()
