"""What an operator sees: the command line's conventions and JSON log lines from every part of
the service, uvicorn's own included."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import uuid

import httpx
import pytest

from app.cli import build_parser, warn_unknown_variables
from app.migrate import upgrade
from tests.helpers import PASSWORD
from tests.production.server import _start, _stop, base_env

pytestmark = pytest.mark.xdist_group("cli")


def run(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    return base_env(url)


def test_every_option_has_help():
    parser = build_parser()
    subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [
        f"{name} {'/'.join(action.option_strings)}"
        for name, sub in subcommands.choices.items()
        for action in sub._actions
        if action.option_strings and not action.help
    ]
    assert missing == []


def test_create_user_reads_the_password_from_stdin(env):
    email = f"ops-{uuid.uuid4().hex[:8]}@example.cn"
    made = run(env, "create-user", "--email", email, "--role", "admin", stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    assert "created admin" in made.stdout
    empty = run(env, "create-user", "--email", "other-" + email, stdin="")
    assert empty.returncode != 0 and "no password given" in empty.stderr


def test_expire_points_can_answer_in_json(env):
    result = run(env, "expire-points", "--json")
    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads(result.stdout), dict)


def test_an_unreachable_database_is_one_clear_line(env):
    env = {**env, "TANHUI_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/none"}
    result = run(env, "expire-points", "--quiet")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: the database is unreachable (ConnectionRefusedError); check TANHUI_DATABASE_URL"
    ]


def test_unknown_tanhui_variables_are_warned_about(capsys):
    unknown = warn_unknown_variables({"TANHUI_TIMEZONE": "UTC", "TANHUI_TIMEZOEN": "UTC"})
    assert unknown == ["TANHUI_TIMEZOEN"]
    assert "TANHUI_TIMEZOEN is not a Tanhui setting" in capsys.readouterr().err


def test_every_log_line_is_json_with_millisecond_utc_times(env, tmp_path):
    env = {**env, "TANHUI_LOG_JSON": "true", "TANHUI_LOG_LEVEL": "INFO"}
    log = tmp_path / "serve.log"
    url, proc = _start(env, 1, str(log))
    try:
        assert httpx.get(f"{url}/healthz").status_code == 200
        assert httpx.get(f"{url}/v1/nowhere").status_code == 404
    finally:
        _stop(proc)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # every line, or this fails
    loggers = {p["logger"] for p in parsed}
    assert "uvicorn.error" in loggers and "tanhui.access" in loggers
    assert any("Uvicorn running" in p["msg"] for p in parsed)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", p["ts"]) for p in parsed)
