"""The pieces of a benchmark run that are not load: PostgreSQL scratch databases, pgbench,
the service under test (``tanhui serve``), its workers' memory, and cleaning up.

Everything a run creates has a unique name (database, Redis key prefix) and is removed at
the end, so runs can share a PostgreSQL and a Redis with other users.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

PG_URL = os.environ.get("TANHUI_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TANHUI_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def pg_dsn(database: str) -> str:
    return PG_URL.rsplit("/", 1)[0] + "/" + database


def asyncpg_url(database: str) -> str:
    return "postgresql+asyncpg://" + pg_dsn(database).split("://", 1)[1]


async def pg_exec(sql: str, database: str | None = None) -> None:
    conn = await asyncpg.connect(pg_dsn(database) if database else PG_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _pg_cli_args() -> list[str]:
    u = urlsplit(PG_URL)
    return [
        "-h",
        u.hostname or "127.0.0.1",
        "-p",
        str(u.port or 5432),
        "-U",
        u.username or "postgres",
    ]


def pgbench_tps(seconds: int, clients: int = 16, scale: int = 10) -> float:
    """tpcb-like TPS on a scratch database of its own (initialised, run, dropped)."""
    import asyncio

    name = f"tanhui_pgbench_{secrets.token_hex(4)}"
    asyncio.run(pg_exec(f'CREATE DATABASE "{name}"'))
    try:
        subprocess.run(
            ["pgbench", *_pg_cli_args(), "-i", "-s", str(scale), "-q", name],
            check=True,
            capture_output=True,
            timeout=600,
        )
        out = subprocess.run(
            [
                "pgbench",
                *_pg_cli_args(),
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
            timeout=seconds + 120,
        ).stdout
        match = re.search(r"tps = ([\d.]+)", out)
        return float(match.group(1)) if match else 0.0
    finally:
        asyncio.run(pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    """``tanhui serve --workers N`` on its own database and Redis prefix."""

    def __init__(self, workers: int, secret: str) -> None:
        self.workers = workers
        self.database = f"tanhui_bench_{secrets.token_hex(4)}"
        self.prefix = f"tanhui-bench:{secrets.token_hex(4)}:"
        self.db_url = asyncpg_url(self.database)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TANHUI_")}
        self.env.update(
            {
                "TANHUI_ENV": "production",
                "TANHUI_DATABASE_URL": self.db_url,
                "TANHUI_REDIS_URL": REDIS_URL,
                "TANHUI_REDIS_PREFIX": self.prefix,
                "TANHUI_JWT_SECRET": secret,
                "TANHUI_LOG_LEVEL": "WARNING",
                "TANHUI_ACCESS_TOKEN_MINUTES": "240",
                "TANHUI_RATE_LIMIT_AUTH_PER_MINUTE": "0",
                "TANHUI_RATE_LIMIT_CITIZEN_PER_MINUTE": "0",
                "TANHUI_RATE_LIMIT_PARTNER_PER_MINUTE": "0",
                # The periodic whole-ledger check (each worker at start, then hourly) would scan
                # a seeded database of millions of rows during the measurements; the bench runs
                # the check itself once, at the end of each database's figures, and times it.
                "TANHUI_LEDGER_CHECK_MINUTES": "0",
            }
        )

    def cli(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "app.cli", *args],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        )
        return out.stdout

    def create_database(self) -> None:
        import asyncio

        asyncio.run(pg_exec(f'CREATE DATABASE "{self.database}"'))
        self.cli("migrate")

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli",
                "serve",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            env=self.env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as r,
            ):
                if r.status == 200 and len(self.worker_pids()) >= self.workers:
                    return
            if self.proc.poll() is not None:
                raise RuntimeError("the service exited at start")
            time.sleep(0.3)
        raise RuntimeError("the service did not become ready within 60 s")

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def worker_pids(self) -> list[int]:
        """uvicorn's worker processes: children of the supervisor running the server."""
        if self.proc is None:
            return []
        pids = []
        for status in Path("/proc").glob("[0-9]*/status"):
            with contextlib.suppress(OSError, AttributeError):
                text = status.read_text()
                ppid = int(re.search(r"PPid:\s+(\d+)", text).group(1))  # type: ignore[union-attr]
                if ppid != self.proc.pid or "VmRSS" not in text:
                    continue
                cmdline = (status.parent / "cmdline").read_bytes()
                if b"resource_tracker" in cmdline:
                    continue
                pids.append(int(status.parent.name))
        return sorted(pids)

    def worker_cpu_seconds(self) -> float:
        """CPU time (user and system) the workers have used so far: per request, a figure that
        other load on the machine distorts far less than a rate."""
        total = 0.0
        for pid in self.worker_pids():
            with contextlib.suppress(OSError, ValueError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def worker_memory_mb(self) -> list[dict[str, float]]:
        """Current and peak resident memory of each worker."""
        out = []
        for pid in self.worker_pids():
            with contextlib.suppress(OSError, AttributeError):
                text = Path(f"/proc/{pid}/status").read_text()
                rss = int(re.search(r"VmRSS:\s+(\d+)", text).group(1))  # type: ignore[union-attr]
                hwm = int(re.search(r"VmHWM:\s+(\d+)", text).group(1))  # type: ignore[union-attr]
                out.append(
                    {"pid": pid, "rss_mb": round(rss / 1024, 1), "peak_mb": round(hwm / 1024, 1)}
                )
        return out

    def drop(self) -> None:
        import asyncio

        import redis

        asyncio.run(pg_exec(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
        r = redis.Redis.from_url(REDIS_URL)
        with contextlib.suppress(redis.RedisError):
            for key in r.scan_iter(match=self.prefix + "*", count=1000):
                r.delete(key)
