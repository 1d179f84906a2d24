"""Round trips on the hot paths, counted so that a new query on them fails a test.

Authentication's own statements (the user row, revocation without Redis) are counted apart:
they belong to the principal, not to the account or the ledger, and shrink on their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event

from app.db import READ_ONLY
from tests.helpers import citizen
from tests.ledger.test_ledger import give
from tests.records.helpers import post

AUTH_TABLES = re.compile(r"\b(users|revoked_tokens)\b")


@dataclass
class Counted:
    statements: list[str] = field(default_factory=list)
    outside_unit_of_work: list[str] = field(default_factory=list)
    commits: int = 0

    @property
    def auth(self) -> list[str]:
        return [s for s in self.statements if AUTH_TABLES.search(s)]

    @property
    def work(self) -> list[str]:
        return [s for s in self.statements if not AUTH_TABLES.search(s)]


@contextmanager
def counting(app: Any) -> Iterator[Counted]:
    """Every statement sent to the database (SQLite's ``BEGIN IMMEDIATE`` aside) and every
    COMMIT, while the block runs."""
    engine = app.state.engine.sync_engine
    seen = Counted()

    def on_execute(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("BEGIN"):
            return
        seen.statements.append(" ".join(statement.split()))
        options = conn.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT" or options.get(READ_ONLY):
            seen.outside_unit_of_work.append(seen.statements[-1])

    def on_commit(_conn: Any) -> None:
        seen.commits += 1

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "commit", on_commit)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "commit", on_commit)


async def test_account_is_one_query_outside_any_unit_of_work_whatever_the_history(app, client):
    user = await citizen(client)
    for days in (-1, 10, 20, 30, 40, 50, 60, 70):
        await give(app, user.id, 10, days=days)
    await user.get("/v1/account")  # warm caches outside the count
    with counting(app) as seen:
        r = await user.get("/v1/account")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["balance"] == 70 and body["lifetime_points"] == 80
    assert len(body["expiring"]) == 5
    # The summary row and the next expiry dates, in one statement: one snapshot, no BEGIN or
    # COMMIT on PostgreSQL. Authentication still reads through the request's unit of work,
    # which commits only when it did read.
    assert len(seen.work) == 1 and seen.outside_unit_of_work == seen.work, seen.statements
    assert len(seen.auth) <= 2, seen.auth
    assert seen.commits == (1 if seen.auth else 0)


async def test_a_single_credited_record_costs_a_fixed_number_of_statements(app, client):
    user = await citizen(client)
    first = await post(user, "walking", {"steps": 3000})  # creates the citizen's accounts
    assert first.status_code == 201, first.text
    with counting(app) as seen:
        r = await post(user, "walking", {"steps": 4000})
    assert r.status_code == 201 and r.json()["status"] == "credited", r.text
    # Lock the citizen and the issuance shard in one statement; read their activity spans,
    # daily usage and records under the same ids in one more; the transaction, its entries,
    # its lot, the balances, the summary; daily usage; the record. The citizen's membership
    # periods (organisation statistics) are read only for a citizen who was ever a member:
    # this one never was. (The citizen's row, read for the whole group, counts as
    # authentication's.) On PostgreSQL the seven writes are one statement.
    writes = [s for s in seen.work if not s.startswith("SELECT")]
    if app.state.engine.dialect.name == "postgresql":
        assert len(seen.work) == 3, "\n".join(seen.work)
        [combined] = writes
        for table in (
            "ledger_transactions",
            "ledger_entries",
            "point_lots",
            "accounts",
            "account_summaries",
            "daily_usage",
            "records",
        ):
            assert re.search(rf"\b(INSERT INTO|UPDATE) {table}\b", combined), table
    else:
        assert len(seen.work) == 9, "\n".join(seen.work)
        assert len(writes) == 7, "\n".join(writes)
    assert not any("organisation_memberships" in s for s in seen.work), seen.work
    assert seen.commits == 1
