"""``make chaos``: faults under load, then proof that nothing was lost or counted twice.

Brings up a private PostgreSQL cluster and a private Redis (it restarts and stops them, so it
never touches shared ones), starts ``tanhui serve --workers N`` on them and drives metro rides
from many clients. Each client retries the same request (same ``client_event_id``, same body)
on connection errors, timeouts, 5xx and 429 until it gets an answer, as the apps do. While the
load runs it kills a worker with SIGKILL, restarts PostgreSQL in immediate (crash) mode, and
stops Redis for a while. A few clients meanwhile redeem one incentive (a point each) for
the riders, each redemption retried with the same Idempotency-Key until answered. Then it
checks, in the database and through the API:

* every acknowledged record is stored exactly once, and nothing unacknowledged is stored;
* every credited record has exactly one ledger transaction;
* every acknowledged redemption is stored once, under the id it was answered with, with its
  points held; nothing unacknowledged is stored; the units taken from the stock are exactly
  the redemptions stored;
* ``GET /v1/admin/ledger/check`` is clean and ``/readyz`` is 200 again.

Exit status 0 only when all of that holds. ``CHAOS_ARGS="--duration 60"`` for a longer run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

import bench.client as bench
from app.config import Settings
from bench import fixtures

PG_BIN = Path(
    subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()
    or "/usr/lib/postgresql/15/bin"
)
RETRY_STATUSES = {429, 500, 502, 503, 504}
INCENTIVE_STOCK = 100_000


def as_postgres(*cmd: str) -> list[str]:
    """Run a PostgreSQL tool as the ``postgres`` user when we are root (initdb refuses root)."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else list(cmd)


@dataclass
class Cluster:
    """A throwaway PostgreSQL cluster and redis-server in one temporary directory."""

    root: Path
    pg_port: int = field(default_factory=bench.free_port)
    redis_port: int = field(default_factory=bench.free_port)
    redis: subprocess.Popen[bytes] | None = None

    @property
    def data(self) -> Path:
        return self.root / "pg"

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(
            as_postgres(
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-w",
                "-t",
                "60",
                "-l",
                str(self.root / "pg.log"),
                *args,
            ),
            check=True,
            stdout=subprocess.DEVNULL,  # the server inherits these: no pipes to wait on
            stderr=subprocess.DEVNULL,
        )

    def start_postgres(self) -> None:
        self.data.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.data, "postgres")
        subprocess.run(
            as_postgres(
                str(PG_BIN / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-instructions",
            ),
            check=True,
            capture_output=True,
        )
        options = (
            f"-p {self.pg_port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=on -c max_connections=200"
        )
        self.pg_ctl("-o", options, "start")

    def restart_postgres(self) -> None:
        self.pg_ctl("-m", "immediate", "restart")

    def start_redis(self) -> None:
        self.redis = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop_redis(self) -> None:
        if self.redis is not None:
            self.redis.kill()
            self.redis.wait()
            self.redis = None

    def close(self) -> None:
        self.stop_redis()
        with contextlib.suppress(subprocess.CalledProcessError):
            self.pg_ctl("-m", "immediate", "stop")


@dataclass
class Tally:
    acknowledged: dict[tuple[str, str], str] = field(default_factory=dict)
    redeemed: dict[tuple[str, str], str] = field(default_factory=dict)  # (citizen, key) -> id
    refused: Counter[str] = field(default_factory=Counter)  # redemptions refused, by code
    requests: int = 0
    retries: int = 0
    unexpected: list[str] = field(default_factory=list)
    statuses: dict[str, Counter[str]] = field(default_factory=dict)
    window: str = "warm-up"
    first_ok_after: dict[str, float] = field(default_factory=dict)
    fault_at: dict[str, float] = field(default_factory=dict)

    def answer(self, status: str) -> None:
        self.statuses.setdefault(self.window, Counter())[status] += 1
        if status.startswith("2"):
            for fault, at in self.fault_at.items():
                if fault not in self.first_ok_after:
                    self.first_ok_after[fault] = time.monotonic() - at


async def until_answered(
    session: aiohttp.ClientSession,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    tally: Tally,
) -> tuple[int, Any]:
    """POST the same request until it is answered, as the apps do: again after a connection
    error, a timeout, a 5xx or a 429. Returns the status and the body of the answer."""
    while True:
        tally.requests += 1
        try:
            async with session.post(url, json=body, headers=headers) as r:
                payload: Any = await r.json(content_type=None)
                tally.answer(str(r.status))
                status = r.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            tally.answer(type(exc).__name__)
            status, payload = 0, None
        if status and status not in RETRY_STATUSES:
            return status, payload
        tally.retries += 1
        await asyncio.sleep(0.2)


async def client(
    url: str, settings: Settings, users: list[str], tally: Tally, stop: asyncio.Event
) -> None:
    rides = bench.Rides(users)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while not stop.is_set():
            user, body = rides.one()
            headers = bench.bearer(settings, user)
            status, payload = await until_answered(
                session, f"{url}/v1/events", body, headers, tally
            )
            if status in (200, 201):
                tally.acknowledged[(user, body["client_event_id"])] = payload["id"]
            else:
                tally.unexpected.append(f"{status}: {payload}")


async def redeemer(
    url: str,
    settings: Settings,
    users: list[str],
    incentive_id: str,
    tally: Tally,
    stop: asyncio.Event,
) -> None:
    """Redeem the incentive for one rider after another, each redemption retried with the
    same Idempotency-Key until answered: 201 (or 200, a replay) or a refusal (409)."""
    timeout = aiohttp.ClientTimeout(total=10)
    n = 0
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while not stop.is_set():
            user = users[n % len(users)]
            n += 1
            key = str(uuid.uuid4())
            headers = {**bench.bearer(settings, user), "Idempotency-Key": key}
            body = {"incentive_id": incentive_id}
            status, payload = await until_answered(
                session, f"{url}/v1/redemptions", body, headers, tally
            )
            if status in (200, 201):
                tally.redeemed[(user, key)] = payload["id"]
            elif status == 409:
                tally.refused[payload.get("code", "?")] += 1
            else:
                tally.unexpected.append(f"redemption {status}: {payload}")
            await asyncio.sleep(0.05)


def workers_of(server_pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(server_pid)], capture_output=True, text=True)
    pids = [int(p) for p in out.stdout.split()]
    # The multiprocessing resource tracker is a child too; workers run the app.
    return [p for p in pids if "resource_tracker" not in Path(f"/proc/{p}/cmdline").read_text()]


async def run_faults(
    args: argparse.Namespace, cluster: Cluster, server_pid: int, tally: Tally
) -> dict[str, Any]:
    notes: dict[str, Any] = {}
    started = time.monotonic()

    async def at(second: float, name: str) -> None:
        await asyncio.sleep(max(0.0, started + second - time.monotonic()))
        tally.window = name
        tally.fault_at[name] = time.monotonic()
        print(f"  {second:5.1f} s  {name}", flush=True)

    await at(args.duration * 0.15, "kill -9 a worker")
    before = workers_of(server_pid)
    os.kill(before[0], signal.SIGKILL)
    notes["killed_worker"] = before[0]
    await at(args.duration * 0.35, "restart PostgreSQL (immediate)")
    await asyncio.to_thread(cluster.restart_postgres)
    await at(args.duration * 0.55, "Redis stopped")
    cluster.stop_redis()
    await at(args.duration * 0.75, "Redis started again")
    cluster.start_redis()
    after = workers_of(server_pid)
    notes["workers_before"], notes["workers_after"] = len(before), len(after)
    notes["killed_worker_replaced"] = before[0] not in after and len(after) == len(before)
    await at(args.duration, "load stopped")
    return notes


async def verify(
    dsn: str, url: str, settings: Settings, admin: str, incentive_id: str, tally: Tally
) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT r.id, r.user_id, r.client_event_id, r.status, r.points, r.transaction_id, "
            "(SELECT count(*) FROM ledger_transactions t WHERE t.ref = 'record:' || r.id || "
            "':credit') AS postings FROM records r"
        )
        redemptions = await conn.fetch(
            "SELECT r.id, r.user_id, r.idempotency_key, r.points, h.amount, h.status AS hold "
            "FROM redemptions r LEFT JOIN holds h ON h.id = r.hold_id"
        )
        units = await conn.fetchrow(
            "SELECT $1::int - stock AS taken, issued FROM incentives WHERE id = $2",
            INCENTIVE_STOCK,
            incentive_id,
        )
    finally:
        await conn.close()
    by_key = {(r["user_id"], r["idempotency_key"]): r for r in redemptions}
    redemption_faults = {
        "redemptions_lost": sum(1 for k in tally.redeemed if k not in by_key),
        "redemptions_acknowledged_with_another_id": sum(
            1 for k, rid in tally.redeemed.items() if k in by_key and by_key[k]["id"] != rid
        ),
        "redemptions_unacknowledged_stored": sum(1 for k in by_key if k not in tally.redeemed),
        "redemptions_without_their_points_held": sum(
            1 for r in redemptions if r["hold"] != "held" or r["amount"] != r["points"]
        ),
        "units_taken_not_redemptions_stored": abs(units["taken"] - len(redemptions))
        + abs(units["issued"] - len(redemptions)),
    }
    stored = Counter((r["user_id"], r["client_event_id"]) for r in rows)
    lost = [k for k in tally.acknowledged if stored[k] == 0]
    duplicated = [k for k, n in stored.items() if n > 1]
    unacknowledged = [k for k in stored if k not in tally.acknowledged]
    wrong_id = [
        k
        for k, rid in tally.acknowledged.items()
        if stored[k] == 1
        and rid not in {r["id"] for r in rows if (r["user_id"], r["client_event_id"]) == k}
    ]
    bad_postings = [
        r["id"]
        for r in rows
        if (r["points"] > 0 and (r["postings"] != 1 or r["transaction_id"] is None))
        or (r["points"] == 0 and r["postings"] != 0)
    ]
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/readyz") as r:
            ready = r.status
        async with session.get(
            f"{url}/v1/admin/ledger/check", headers=bench.bearer(settings, admin, "admin")
        ) as r:
            check = await r.json()
    return {
        "stored": len(rows),
        "lost": len(lost),
        "duplicated": len(duplicated),
        "unacknowledged_stored": len(unacknowledged),
        "acknowledged_with_another_id": len(wrong_id),
        "credited_without_exactly_one_posting": len(bad_postings),
        "redemptions_stored": len(redemptions),
        **redemption_faults,
        "ledger_check": check,
        "readyz": ready,
    }


async def drive(
    args: argparse.Namespace,
    cluster: Cluster,
    url: str,
    server_pid: int,
    settings: Settings,
    users: list[str],
    incentive_id: str,
) -> tuple[Tally, dict[str, Any]]:
    tally = Tally()
    stop = asyncio.Event()
    share = [users[i :: args.clients] for i in range(args.clients)]
    clients = [asyncio.create_task(client(url, settings, s, tally, stop)) for s in share]
    riders = [users[i :: args.redeemers] for i in range(args.redeemers)]
    clients += [
        asyncio.create_task(redeemer(url, settings, r, incentive_id, tally, stop)) for r in riders
    ]
    notes = await run_faults(args, cluster, server_pid, tally)
    stop.set()
    tally.window = "draining"
    await asyncio.wait_for(asyncio.gather(*clients), timeout=120)
    return tally, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=40.0, help="seconds of load")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--users", type=int, default=400)
    parser.add_argument("--redeemers", type=int, default=4, help="clients redeeming")
    parser.add_argument("--keep", action="store_true", help="keep the directory and logs")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="tanhui-chaos-"))
    os.chmod(root, 0o755)
    cluster = Cluster(root)
    server: subprocess.Popen[bytes] | None = None
    log = root / "server.log"
    ok = False
    try:
        print(f"private PostgreSQL on {cluster.pg_port}, Redis on {cluster.redis_port}", flush=True)
        cluster.start_postgres()
        cluster.start_redis()
        bench.PG_URL = f"postgresql://postgres@127.0.0.1:{cluster.pg_port}/postgres"
        asyncio.run(bench.pg_exec('CREATE DATABASE "tanhui"'))
        dsn = bench.pg_dsn("tanhui")
        db_url = dsn.replace("postgresql://", "postgresql+asyncpg://")
        env = {k: v for k, v in os.environ.items() if not k.startswith("TANHUI_")}
        env.update(
            {
                "TANHUI_ENV": "production",
                "TANHUI_DATABASE_URL": db_url,
                "TANHUI_REDIS_URL": f"redis://127.0.0.1:{cluster.redis_port}/0",
                "TANHUI_JWT_SECRET": bench.SECRET,
                "TANHUI_LOG_LEVEL": "WARNING",
                "TANHUI_RATE_LIMIT_AUTH_PER_MINUTE": "0",
                "TANHUI_RATE_LIMIT_CITIZEN_PER_MINUTE": "0",
                "TANHUI_RATE_LIMIT_PARTNER_PER_MINUTE": "0",
            }
        )
        subprocess.run(
            [sys.executable, "-m", "app.cli", "migrate"], env=env, check=True, capture_output=True
        )
        settings = Settings(database_url=db_url, jwt_secret=bench.SECRET, env="production")
        users = asyncio.run(bench.create_users("tanhui", args.users))
        admin = asyncio.run(bench.create_users("tanhui", 1, "admin"))[0]
        port = bench.free_port()
        url = f"http://127.0.0.1:{port}"
        with log.open("wb") as out:
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "app.cli",
                    "serve",
                    "--port",
                    str(port),
                    "--workers",
                    str(args.workers),
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        asyncio.run(bench.wait_ready(url, server))
        admin_token = bench.bearer(settings, admin, "admin")["Authorization"].split()[1]
        incentive_id = asyncio.run(
            fixtures.hot_incentive(url, admin_token, stock=INCENTIVE_STOCK, cost=1)
        )
        print(
            f"load: {args.clients} clients riding and {args.redeemers} redeeming for "
            f"{args.duration:.0f} s; faults:",
            flush=True,
        )
        tally, notes = asyncio.run(
            drive(args, cluster, url, server.pid, settings, users, incentive_id)
        )
        result = asyncio.run(verify(dsn, url, settings, admin, incentive_id, tally))
        ok = report(tally, notes, result)
    finally:
        if server is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=20)
        if not ok and log.exists():
            print("\nlast lines of the server log:")
            print("\n".join(log.read_text(errors="replace").splitlines()[-30:]))
        cluster.close()
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    sys.exit(0 if ok else 1)


def report(tally: Tally, notes: dict[str, Any], result: dict[str, Any]) -> bool:
    print("\nanswers by window:")
    for window, counts in tally.statuses.items():
        shown = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
        print(f"  {window:<32} {shown}")
    print("first success after each fault (s):")
    for fault, seconds in tally.first_ok_after.items():
        print(f"  {fault:<32} {seconds:.2f}")
    print(
        f"worker killed: pid {notes['killed_worker']}; workers before {notes['workers_before']}, "
        f"after {notes['workers_after']}; replaced: {notes['killed_worker_replaced']}"
    )
    print(
        f"requests {tally.requests}, retries {tally.retries}, "
        f"acknowledged records {len(tally.acknowledged)}, "
        f"acknowledged redemptions {len(tally.redeemed)}, refused redemptions "
        + (", ".join(f"{k}: {v}" for k, v in sorted(tally.refused.items())) or "none")
    )
    for key, value in result.items():
        if key != "ledger_check":
            print(f"  {key:<40} {value}")
    check = result["ledger_check"]
    print(f"  {'ledger check':<40} ok={check.get('ok')} mismatches={check.get('mismatches')}")
    for line in tally.unexpected[:10]:
        print(f"  unexpected answer: {line}")
    ok = (
        result["lost"] == 0
        and result["duplicated"] == 0
        and result["unacknowledged_stored"] == 0
        and result["acknowledged_with_another_id"] == 0
        and result["credited_without_exactly_one_posting"] == 0
        and all(
            v == 0
            for k, v in result.items()
            if k.startswith(("redemptions_", "units_")) and k != "redemptions_stored"
        )
        and check.get("ok") is True
        and result["readyz"] == 200
        and not tally.unexpected
    )
    print("\nRESULT:", "OK — nothing lost, nothing doubled, ledger clean" if ok else "FAILED")
    return ok


if __name__ == "__main__":
    main()
