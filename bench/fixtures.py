"""What a benchmark run needs before the load, prepared through the CLI and the public API:
an administrator (``tanhui create-user``), citizens and their access tokens
(``POST /v1/auth/register`` once, then ``POST /v1/auth/token`` per citizen), a merchant and an
incentive, points for the redeemers.

Only the bulk of identical citizens is inserted in SQL, with one argon2id hash of the shared
password made with low cost parameters (the parameters travel in the hash, and the service's
verifier honours them): a login then costs milliseconds, so preparing a thousand tokens does
not take minutes. Their tokens still come from ``POST /v1/auth/token``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from argon2 import PasswordHasher

PASSWORD = "Bench-password-2026"


async def _post(s: aiohttp.ClientSession, url: str, **kw: Any) -> Any:
    async with s.post(url, **kw) as r:
        body = await r.json(content_type=None)
        if r.status >= 300:
            raise RuntimeError(f"POST {url}: {r.status} {body}")
        return body


async def register_template(url: str) -> str:
    """One citizen registered through the API; returns their email."""
    email = f"template-{uuid.uuid4().hex[:10]}@bench.example.cn"
    async with aiohttp.ClientSession() as s:
        await _post(
            s,
            f"{url}/v1/auth/register",
            json={"email": email, "password": PASSWORD, "display_name": "Bench", "region": "CN-SX"},
        )
    return email


def bulk_password_hash() -> str:
    """argon2id of PASSWORD, cheap to verify (1 pass, 1 MiB)."""
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)


async def create_citizens(dsn: str, n: int) -> list[str]:
    """``n`` citizens with the bulk password hash; returns their emails."""
    emails = [f"citizen-{k}-{uuid.uuid4().hex[:8]}@bench.example.cn" for k in range(n)]
    pw = bulk_password_hash()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "users",
            columns=[
                "id",
                "email",
                "password_hash",
                "role",
                "display_name",
                "region",
                "is_active",
                "created_at",
            ],
            records=[
                (
                    str(uuid.uuid4()),
                    e,
                    pw,
                    "citizen",
                    f"Citizen {k}",
                    ("CN-SX", "CN-GD")[k % 2],
                    True,
                    datetime.now(UTC),
                )
                for k, e in enumerate(emails)
            ],
        )
    finally:
        await conn.close()
    return emails


async def emails_of(dsn: str, ids: list[str]) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT id, email FROM users WHERE id = ANY($1::text[])", ids)
    finally:
        await conn.close()
    by_id = {r["id"]: r["email"] for r in rows}
    return [by_id[i] for i in ids]


async def login(url: str, emails: list[str], concurrency: int = 8) -> list[str]:
    """An access token per email, through ``POST /v1/auth/token``."""
    sem = asyncio.Semaphore(concurrency)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as s:

        async def one(email: str) -> str:
            async with sem:
                body = await _post(
                    s, f"{url}/v1/auth/token", data={"username": email, "password": PASSWORD}
                )
                return str(body["access_token"])

        return list(await asyncio.gather(*[one(e) for e in emails]))


def write_tokens(path: Path, tokens: list[str]) -> Path:
    path.write_text("".join(t + "\n" for t in tokens))
    return path


async def hot_incentive(url: str, admin_token: str, stock: int, cost: int) -> str:
    """A merchant and one incentive with ``stock`` units; returns the incentive id."""
    h = {"Authorization": f"Bearer {admin_token}"}
    async with aiohttp.ClientSession() as s:
        merchant = await _post(
            s, f"{url}/v1/admin/merchants", json={"name": "Hot kiosk"}, headers=h
        )
        incentive = await _post(
            s,
            f"{url}/v1/merchant/incentives",
            headers=h,
            json={
                "merchant_id": merchant["id"],
                "title": "Free metro ride",
                "points_cost": cost,
                "stock": stock,
            },
        )
    return str(incentive["id"])


async def _post_records(
    url: str, tokens: list[str], bodies: Callable[[int], list[dict[str, Any]]], concurrency: int
) -> dict[str, int]:
    """``POST /v1/events`` of ``bodies(i)`` for the i-th citizen, one after another (so each
    credit is its own lot, with its own expiry time); returns the answers by status."""
    sem = asyncio.Semaphore(concurrency)
    timeout = aiohttp.ClientTimeout(total=120)
    statuses: dict[str, int] = {}
    async with aiohttp.ClientSession(timeout=timeout) as s:

        async def one(i: int, token: str) -> None:
            async with sem:
                for body in bodies(i):
                    async with s.post(
                        f"{url}/v1/events", headers={"Authorization": f"Bearer {token}"}, json=body
                    ) as r:
                        await r.read()
                        statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1

        await asyncio.gather(*[one(i, t) for i, t in enumerate(tokens)])
    return statuses


async def earn(url: str, tokens: list[str], tag: str, concurrency: int = 32) -> int:
    """One untimed walking record per citizen (enough points for the incentive); returns how
    many were answered 201/200."""
    at = (datetime.now(UTC) - timedelta(hours=2)).isoformat()

    def bodies(i: int) -> list[dict[str, Any]]:
        walk = {"type": "walking", "occurred_at": at, "data": {"steps": 5000}}
        return [{"client_event_id": f"{tag}-earn-{i}", **walk}]

    statuses = await _post_records(url, tokens, bodies, concurrency)
    return statuses.get("201", 0) + statuses.get("200", 0)


HISTORY_TYPES = (
    ("transit.metro", {"distance_km": 6.0, "duration_min": 8}),
    ("transit.bus", {"distance_km": 3.5, "duration_min": 8}),
    ("cycling", {"distance_km": 2.5, "duration_min": 8}),
    ("walking", {"steps": 900, "duration_min": 8}),
    ("transit.metro", {"distance_km": 4.0, "duration_min": 8}),
)


async def history(
    url: str, tokens: list[str], tag: str, ends: list[datetime], concurrency: int = 32
) -> dict[str, int]:
    """A short history per citizen before ``GET /v1/account`` is measured: one record per time
    in ``ends`` (each the end of an 8-minute trip), each credit its own lot. A citizen's
    account then lists as many expiring amounts as a citizen of a seeded database (five), so
    the empty and the seeded database answer the same shape. Returns the answers by status
    and the first citizen's number of expiring amounts."""

    def bodies(i: int) -> list[dict[str, Any]]:
        return [
            {
                "client_event_id": f"{tag}-history-{i}-{k}",
                "type": HISTORY_TYPES[k % len(HISTORY_TYPES)][0],
                "occurred_at": end.isoformat(),
                "data": HISTORY_TYPES[k % len(HISTORY_TYPES)][1],
            }
            for k, end in enumerate(ends)
        ]

    statuses = await _post_records(url, tokens, bodies, concurrency)
    async with (
        aiohttp.ClientSession() as s,
        s.get(f"{url}/v1/account", headers={"Authorization": f"Bearer {tokens[0]}"}) as r,
    ):
        expiring = len((await r.json())["expiring"])
    return {**statuses, "expiring_listed": expiring}


async def ledger_check(url: str, admin_token: str) -> dict[str, Any]:
    timeout = aiohttp.ClientTimeout(total=1800)
    async with (
        aiohttp.ClientSession(timeout=timeout) as s,
        s.get(
            f"{url}/v1/admin/ledger/check", headers={"Authorization": f"Bearer {admin_token}"}
        ) as r,
    ):
        body: dict[str, Any] = await r.json(content_type=None)
        body["http_status"] = r.status
        return body


async def redemption_counts(dsn: str, incentive_id: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        issued = await conn.fetchval(
            "SELECT count(*) FROM redemptions WHERE incentive_id = $1", incentive_id
        )
        stock = await conn.fetchval("SELECT stock FROM incentives WHERE id = $1", incentive_id)
    finally:
        await conn.close()
    return {"redemptions_stored": int(issued), "stock_left": int(stock or 0)}


async def record_counts(dsn: str, tag: str) -> dict[str, int]:
    """The run's records by status (and reason, for the not credited)."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT status, reasons::text AS reasons, count(*) AS n FROM records "
            "WHERE client_event_id LIKE $1 GROUP BY 1, 2 ORDER BY 3 DESC",
            tag + "-%",
        )
    finally:
        await conn.close()
    return {f"{r['status']} {r['reasons']}": int(r["n"]) for r in rows}
