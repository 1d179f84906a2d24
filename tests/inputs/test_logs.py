"""No log line carries a password hash, token, code or secret, even when a request fails
with a database error whose statement was given one."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select, text

from app.db import session_scope
from app.models import User
from app.observability import JsonFormatter, RedactingFormatter
from tests.helpers import citizen


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)

    def lines() -> str:
        records = caplog.records
        return "\n".join(
            f.format(r) for r in records for f in (JsonFormatter(), RedactingFormatter())
        )

    return lines


async def test_a_failing_statement_does_not_log_its_parameters(app, client, logged):
    c = await citizen(client)
    async with session_scope(app.state.sessionmaker) as session:
        password_hash = await session.scalar(select(User.password_hash).where(User.id == c.id))
    assert password_hash and password_hash.startswith("$argon2")

    async def broken() -> None:
        async with session_scope(app.state.sessionmaker) as session:
            await session.execute(
                text("SELECT no_such_column FROM users WHERE password_hash = :h"),
                {"h": password_hash},
            )

    app.router.add_api_route("/test-broken", broken, methods=["GET"])
    r = await client.get("/test-broken", headers=c.headers)
    assert r.status_code == 500
    assert password_hash not in r.text
    out = logged()
    assert "unhandled error" in out and "no_such_column" in out  # the failure is logged
    assert password_hash not in out
    assert password_hash.split("$")[-1] not in out


async def test_secrets_inside_exception_messages_are_redacted(app, client, logged):
    c = await citizen(client)
    code = "7KQM-2XTR-9PWZ"
    secret = "9f" * 32

    async def leaky() -> None:
        raise RuntimeError(f"token {c.token} refresh {c.refresh_token} code {code} key {secret}")

    app.router.add_api_route("/test-leaky", leaky, methods=["GET"])
    r = await client.get("/test-leaky")
    assert r.status_code == 500
    out = logged()
    assert "RuntimeError" in out
    for value in (c.token, c.refresh_token, code, secret):
        assert value not in out
