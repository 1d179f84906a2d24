"""wrk, the load generator: installing it, running one of the Lua scripts of ``bench/lua/``
and reading the one result line the scripts print.

wrk is written in C and costs little CPU, so on a small machine it leaves the cores to the
service and PostgreSQL. It has no rate option: the scripts pace themselves with ``delay()``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LUA_DIR = Path(__file__).resolve().parent / "lua"


def ensure_wrk() -> str:
    """The path of wrk, installing Debian's package when it is missing and we are root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit(
            "wrk is not installed. Install it with `sudo apt-get install -y wrk` "
            "(Debian/Ubuntu) and run the benchmark again."
        )
    print("installing wrk (apt-get install -y wrk) …", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    ok = subprocess.run(["apt-get", "install", "-y", "wrk"], env=env, timeout=600).returncode
    if ok != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "wrk"], env=env, check=True, timeout=600)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("apt-get did not install wrk")
    return found


@dataclass
class WrkResult:
    """One wrk run, as printed by ``done()`` in ``bench/lua/common.lua``."""

    script: str
    connections: int
    target_rate: float
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return float(self.raw.get("duration_us", 0)) / 1e6

    @property
    def burst_seconds(self) -> float:
        """From the first request sent to the last answer received."""
        return max(0.0, (self.raw.get("last_ms", 0) - self.raw.get("first_ms", 0)) / 1000)

    @property
    def requests(self) -> int:
        return int(self.raw.get("requests", 0))

    @property
    def ok(self) -> int:
        return int(self.raw.get("ok", 0))

    @property
    def errors(self) -> int:
        r = self.raw
        return int(
            r.get("s4xx", 0)
            + r.get("s5xx", 0)
            + r.get("other", 0)
            + r.get("connect_errors", 0)
            + r.get("read_errors", 0)
            + r.get("write_errors", 0)
            + r.get("timeouts", 0)
        )

    def ms(self, key: str) -> float:
        return float(self.raw.get(key, 0)) / 1000


def run_wrk(
    script: str,
    url: str,
    *,
    duration: float,
    connections: int,
    threads: int = 2,
    rate: float = 0.0,
    timeout_s: int = 30,
    tokens: Path | None = None,
    extra: dict[str, str] | None = None,
    until_done: int = 0,
) -> WrkResult:
    """Run ``bench/lua/<script>.lua`` against ``url``.

    ``until_done``: limit mode (the hot incentive): each connection sends one request and the
    run ends as soon as all threads have their answers, or after ``duration`` at the latest.
    """
    threads = max(1, min(threads, connections))
    args = [f"threads={threads}", f"rate={rate}"]
    if tokens is not None:
        args.append(f"tokens={tokens}")
    for k, v in (extra or {}).items():
        args.append(f"{k}={v}")
    with tempfile.TemporaryDirectory(prefix="tanhui-wrk-") as tmp:
        donefile = Path(tmp) / "done"
        if until_done:
            args += ["limit=1", f"donefile={donefile}"]
        cmd = [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{max(1, round(duration))}s",
            "--timeout",
            f"{timeout_s}s",
            "-s",
            str(LUA_DIR / f"{script}.lua"),
            url,
            "--",
            *args,
        ]
        env = {**os.environ, "BENCH_LUA_DIR": str(LUA_DIR)}
        proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        if until_done:
            deadline = time.monotonic() + duration
            while time.monotonic() < deadline and proc.poll() is None:
                if donefile.exists() and len(donefile.read_text().split()) >= threads:
                    break
                time.sleep(0.05)
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # wrk prints its summary and calls done()
        try:
            out, err = proc.communicate(timeout=duration + timeout_s + 60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    result = WrkResult(script, connections, rate)
    for line in out.splitlines():
        if line.startswith("BENCH-RESULT "):
            result.raw = json.loads(line.split(" ", 1)[1])
    if not result.raw:
        raise RuntimeError(f"wrk {script} printed no result:\n{out}\n{err}")
    return result
