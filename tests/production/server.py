"""Real ``tanhui serve`` processes for tests that need more than the in-process app."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.cli import tanhui
from tests.conftest import TEST_HASH_COST, TEST_SECRET
from tests.helpers import PASSWORD

# One client for the calls below: each ``httpx.get``/``httpx.post`` builds a client, and with it
# a TLS context that parses the CA bundle (about 30 ms of CPU), even for plain http; the
# start-up poll and the fuzz test's sign-ins made hundreds of them. No connection is kept
# open, so none outlives the server it went to.
_http = httpx.Client(timeout=30, limits=httpx.Limits(max_keepalive_connections=0))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANHUI_")}
    env.update(
        {
            "TANHUI_ENV": "test",
            "TANHUI_DATABASE_URL": database_url,
            "TANHUI_JWT_SECRET": TEST_SECRET,
            "TANHUI_LOG_JSON": "false",
            "TANHUI_LOG_LEVEL": "WARNING",
            "TANHUI_RATE_LIMIT_AUTH_PER_MINUTE": "0",
            "TANHUI_RATE_LIMIT_CITIZEN_PER_MINUTE": "0",
            "TANHUI_RATE_LIMIT_PARTNER_PER_MINUTE": "0",
            "TANHUI_METRICS_REFRESH_SECONDS": "0",
            **{f"TANHUI_{k.upper()}": str(v) for k, v in TEST_HASH_COST.items()},
        }
    )
    env.update(extra)
    return env


def cli(env: dict[str, str], *args: str) -> str:
    """``tanhui *args`` for a server's database, in this process; its stdout."""
    done = tanhui(env, *args)
    if done.returncode != 0:
        raise RuntimeError(f"tanhui {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def create_user(
    env: dict[str, str], email: str, role: str, password: str = PASSWORD, **extra: str
) -> str:
    args = ["create-user", "--email", email, "--password", password, "--role", role]
    for key, value in extra.items():
        args += [f"--{key.replace('_', '-')}", value]
    line = cli(env, *args)
    return line.strip().rsplit("id=", 1)[1]


def token(base_url: str, email: str, password: str = PASSWORD) -> str:
    r = _http.post(f"{base_url}/v1/auth/token", data={"username": email, "password": password})
    r.raise_for_status()
    return str(r.json()["access_token"])


def _start(env: dict[str, str], workers: int, log_path: str) -> tuple[str, subprocess.Popen[bytes]]:
    """A ready server on a free port; another process (an xdist worker, another checkout's
    suite) may take the port between ``free_port`` and the bind, so a lost bind is retried."""
    for _attempt in range(5):
        port = free_port()
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "app.cli",
                    "serve",
                    "--port",
                    str(port),
                    "--workers",
                    str(workers),
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 40
        while True:
            if proc.poll() is not None:
                output = Path(log_path).read_text()
                if "address already in use" in output.lower():
                    break
                raise RuntimeError("server did not start:\n" + output)
            with contextlib.suppress(httpx.HTTPError):
                if _http.get(f"{url}/readyz", timeout=2).status_code == 200:
                    return url, proc
            if time.monotonic() > deadline:
                _stop(proc)
                raise RuntimeError("server did not start:\n" + Path(log_path).read_text())
            time.sleep(0.2)
    raise RuntimeError("server did not start: no free port after 5 attempts")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextlib.contextmanager
def serve(env: dict[str, str], workers: int = 1) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start ``tanhui serve`` in its own process group; stop the whole group afterwards."""
    fd, log_path = tempfile.mkstemp(prefix="tanhui-serve-", suffix=".log")
    os.close(fd)
    try:
        url, proc = _start(env, workers, log_path)
        try:
            yield url, proc
        finally:
            _stop(proc)
    finally:
        os.unlink(log_path)
