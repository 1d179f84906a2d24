"""What an authenticated request costs the database, and what production exposes."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from app.config import Settings
from tests.helpers import citizen

# Production refuses the cheap test hash; the smallest cost it accepts.
PRODUCTION_HASH = {"password_hash_time_cost": 2, "password_hash_memory_kib": 19456}


@contextmanager
def statements(app) -> Iterator[list[str]]:
    """Every SQL statement the app sends while the block runs (transaction control aside)."""
    seen: list[str] = []

    def record(conn, cursor, sql, params, context, executemany) -> None:  # noqa: ANN001
        if not sql.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            seen.append(sql)

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_authentication_reads_nothing_from_the_database(app, client):
    alice = await citizen(client)
    assert (await alice.get("/v1/me")).status_code == 200  # the store's standing is loaded
    with statements(app) as sql:
        assert (await alice.get("/v1/me")).status_code == 200
    # The profile itself, and nothing for authentication.
    assert len(sql) == 1, sql
    assert "revoked_tokens" not in sql[0]
    with statements(app) as sql:
        assert (await alice.get("/v1/events")).status_code == 200
    assert len(sql) == 1 and "FROM records" in sql[0], sql
    assert not any("users" in s or "revoked_tokens" in s for s in sql)


def test_development_generates_its_own_secret_and_keeps_it_out_of_the_source(tmp_path):
    path = tmp_path / ".tanhui-dev-secret"
    first = Settings(env="development", dev_secret_file=str(path), jwt_secret=None)
    again = Settings(env="development", dev_secret_file=str(path), jwt_secret=None)
    other = Settings(env="development", dev_secret_file=str(tmp_path / "other"), jwt_secret=None)
    assert first.jwt_key == again.jwt_key and len(first.jwt_key) >= 32
    assert other.jwt_key != first.jwt_key
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@pytest.mark.parametrize(
    "settings_overrides", [{"env": "production", "docs_enabled": False, **PRODUCTION_HASH}]
)
async def test_production_hides_metrics_and_docs_when_told(client):
    assert (await client.get("/metrics")).status_code == 404
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert (await client.get(path)).status_code == 404
    assert (await client.get("/healthz")).status_code == 200


@pytest.mark.parametrize(
    "settings_overrides", [{"env": "production", "metrics_token": "m" * 40, **PRODUCTION_HASH}]
)
async def test_metrics_token_is_required_when_set(client):
    assert (await client.get("/metrics")).status_code == 401
    r = await client.get("/metrics", headers={"Authorization": "Bearer " + "x" * 40})
    assert r.status_code == 401
    r = await client.get("/metrics", headers={"Authorization": "Bearer " + "m" * 40})
    assert r.status_code == 200 and "tanhui_http_requests_total" in r.text
    assert (await client.get("/openapi.json")).status_code == 200
