"""Helpers shared by ``bench.chaos`` and ``bench.simulate`` (asyncio client side): scratch
databases, citizens inserted directly, tokens signed with the run's secret, rides that never
overlap, waiting for readiness. ``make bench`` itself uses wrk (bench/run.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg

from app.config import Settings
from app.security import encode_token, hash_password, sign

PG_URL = os.environ.get("TANHUI_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TANHUI_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
SECRET = "bench-" + secrets.token_hex(24)


def pg_dsn(database: str) -> str:
    return PG_URL.rsplit("/", 1)[0] + "/" + database


async def pg_exec(sql: str, database: str | None = None) -> None:
    conn = await asyncpg.connect(pg_dsn(database) if database else PG_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


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


def bearer(settings: Settings, user_id: str, role: str = "citizen") -> dict[str, str]:
    claims = encode_token(
        settings, sub=user_id, role=role, typ="access", lifetime=timedelta(hours=2)
    )
    return {"Authorization": f"Bearer {sign(settings, claims)}"}
