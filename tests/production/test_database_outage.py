"""A database restart seen from the API: connections lost under the pool."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.db import is_database_outage
from tests.conftest import _pg_exec
from tests.helpers import assert_problem, citizen
from tests.records.helpers import post


async def test_lost_connections_answer_503_and_the_retry_is_served(client, backend, database_url):
    if backend.name != "postgres":
        pytest.skip("only PostgreSQL connections can be cut from outside")
    c = await citizen(client)
    first = await post(c, "walking", {"steps": 5000})
    assert first.status_code == 201
    database = database_url.rsplit("/", 1)[1]
    # What a server restart does to every pooled connection.
    await _pg_exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    )
    lost = await c.get("/v1/account")
    problem = assert_problem(lost, 503, "unavailable")
    assert lost.headers["Retry-After"] == "1" and "retry" in problem["detail"]
    again = await c.get("/v1/account")
    assert again.status_code == 200 and again.json()["balance"] == first.json()["points"]


@pytest.mark.parametrize(
    "failure",
    [
        asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
        asyncpg.exceptions.SerializationError("could not serialize access"),
        PoolTimeout("QueuePool limit of size 5 overflow 10 reached, connection timed out"),
    ],
    ids=["deadlock", "serialization", "pool_timeout"],
)
def test_aborted_transactions_and_a_full_pool_are_retryable_not_bugs(failure):
    # As SQLAlchemy raises them: the driver's error wrapped in a DBAPIError, or the pool's own.
    wrapped = (
        failure
        if isinstance(failure, PoolTimeout)
        else DBAPIError("UPDATE refresh_tokens …", None, failure)
    )
    assert is_database_outage(wrapped)
    assert not is_database_outage(DBAPIError("INSERT …", None, ValueError("a bug")))
