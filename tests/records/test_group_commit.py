"""Group commit of single records: concurrent POST /v1/events decided together, each request
answered with its own outcome, exactly as if it had been committed alone."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import session_scope
from app.models import LedgerTransaction, Record
from app.services.records import intake
from tests.helpers import assert_problem, citizen
from tests.records.helpers import ago, event

METRO_10KM = {"distance_km": 10, "duration_min": 20}
# Records arriving within this long of the first share its group: long enough that requests
# of one asyncio.gather, slowed down by their sign-in reads on a busy machine, still meet.
GROUPED = {"record_group_wait_ms": 400}


class Commits:
    """COMMITs of transactions that inserted records, counted at the engine."""

    def __init__(self) -> None:
        self.count = 0
        self._writing: set[int] = set()

    def executed(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # Alone, or one part of a combined write (``WITH w1 AS (INSERT …), …``).
        if "INSERT INTO RECORDS " in statement.upper():
            self._writing.add(id(conn))

    def committed(self, conn: Any) -> None:
        if id(conn) in self._writing:
            self._writing.discard(id(conn))
            self.count += 1

    def rolled_back(self, conn: Any) -> None:
        self._writing.discard(id(conn))


@contextlib.contextmanager
def record_commits(engine: AsyncEngine) -> Iterator[Commits]:
    commits = Commits()
    hooks = [
        ("before_cursor_execute", commits.executed),
        ("commit", commits.committed),
        ("rollback", commits.rolled_back),
    ]
    for name, fn in hooks:
        sa_event.listen(engine.sync_engine, name, fn)
    try:
        yield commits
    finally:
        for name, fn in hooks:
            sa_event.remove(engine.sync_engine, name, fn)


async def count(app, model, *where) -> int:
    async with session_scope(app.state.sessionmaker) as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def balance(actor) -> int:
    return (await actor.get("/v1/account")).json()["balance"]


@pytest.mark.parametrize("settings_overrides", [GROUPED])
async def test_concurrent_records_of_many_citizens_share_commits_and_each_gets_its_own_answer(
    client, app
):
    people = await asyncio.gather(*[citizen(client) for _ in range(12)])
    rides = {c.id: event("transit.metro", METRO_10KM) for c in people}
    walks = {c.id: event("walking", {"steps": 5000}, at=ago(hours=3)) for c in people}
    taken = await (people[0]).post("/v1/events", json=walks[people[0].id])
    assert taken.status_code == 201
    clash = {**walks[people[0].id], "data": {"steps": 6000}}  # same id, other content
    requests = [c.post("/v1/events", json=rides[c.id]) for c in people]
    requests += [c.post("/v1/events", json=walks[c.id]) for c in people[1:]]
    requests.append(people[0].post("/v1/events", json=clash))
    with record_commits(app.state.engine) as commits:
        rs = await asyncio.gather(*requests)
    assert commits.count < len(requests) - 1
    for r in rs[: len(people)]:
        assert r.status_code == 201 and r.json()["status"] == "credited", r.text
        assert r.json()["points"] == 467
    for r in rs[len(people) : -1]:
        assert r.status_code == 201 and r.json()["points"] == 100, r.text
    assert_problem(rs[-1], 409, "idempotency_conflict")
    for c in people:
        assert await balance(c) == 567
        assert await count(app, Record, Record.user_id == c.id) == 2


@pytest.mark.parametrize("settings_overrides", [GROUPED])
async def test_same_record_raced_30_times_credits_once(client, app):
    c = await citizen(client)
    body = event("transit.metro", METRO_10KM)
    with record_commits(app.state.engine) as commits:
        rs = await asyncio.gather(*[c.post("/v1/events", json=body) for _ in range(30)])
    assert sorted(r.status_code for r in rs) == [200] * 29 + [201]
    assert len({r.content for r in rs}) == 1  # a replay is the same body
    assert commits.count == 1
    assert await balance(c) == 467
    credits = await count(
        app,
        LedgerTransaction,
        LedgerTransaction.user_id == c.id,
        LedgerTransaction.kind == "credit",
    )
    assert credits == 1


@pytest.mark.parametrize("settings_overrides", [GROUPED])
async def test_same_id_twice_in_one_group_is_a_replay_or_a_conflict(client, app):
    c = await citizen(client)
    same = event("walking", {"steps": 1000})
    other = {**same, "data": {"steps": 2000}}
    with record_commits(app.state.engine) as commits:
        first, replay = await asyncio.gather(
            c.post("/v1/events", json=same), c.post("/v1/events", json=same)
        )
    assert commits.count == 1
    assert sorted([first.status_code, replay.status_code]) == [200, 201]
    assert first.json() == replay.json()
    ride = event("transit.metro", METRO_10KM)
    rs = await asyncio.gather(
        c.post("/v1/events", json=ride),
        c.post("/v1/events", json={**ride, "data": {"distance_km": 11, "duration_min": 20}}),
    )
    assert sorted(r.status_code for r in rs) == [201, 409]
    assert_problem(next(r for r in rs if r.status_code == 409), 409, "idempotency_conflict")
    assert await count(app, Record, Record.user_id == c.id) == 2
    stored = next(r for r in rs if r.status_code == 201).json()
    assert await balance(c) == 20 + stored["points"]
    assert (await c.post("/v1/events", json=other)).status_code == 409


@pytest.mark.parametrize("settings_overrides", [GROUPED])
async def test_two_overlapping_rides_of_one_citizen_sent_together_credit_one(client, app):
    c = await citizen(client)
    at = ago(hours=1)
    with record_commits(app.state.engine) as commits:
        rs = await asyncio.gather(
            *[c.post("/v1/events", json=event("transit.metro", METRO_10KM, at=at)) for _ in "ab"]
        )
    assert commits.count == 1  # one group, decided in arrival order
    assert [r.status_code for r in rs] == [201, 201]
    assert sorted((r.json()["status"], tuple(r.json()["reasons"])) for r in rs) == [
        ("credited", ()),
        ("rejected", ("overlapping_activity",)),
    ]
    assert await balance(c) == 467


@pytest.mark.parametrize("settings_overrides", [GROUPED])
async def test_daily_caps_hold_when_a_citizens_records_share_groups(client):
    walker, other = await citizen(client), await citizen(client)
    rs = await asyncio.gather(
        *[
            walker.post("/v1/events", json=event("walking", {"steps": 5000}, at=ago(minutes=i)))
            for i in range(10, 20)
        ],
        *[
            other.post("/v1/events", json=event("walking", {"steps": 5000}, at=ago(minutes=i)))
            for i in range(10, 12)
        ],
    )
    mine = [r.json() for r in rs[:10]]
    assert sum(r["points"] for r in mine) == 296
    assert sum(r["reduction_g"] for r in mine) == 1000
    assert sum("daily_cap_reached" in r["reasons"] for r in mine) >= 7
    assert await balance(walker) == 296
    assert await balance(other) == 200


@pytest.mark.parametrize("settings_overrides", [GROUPED])
async def test_a_record_that_fails_does_not_fail_its_group(client, app, monkeypatch):
    decide = intake._decide

    async def breaks_on_poison(session, settings, batch, it, *args):
        if it.record_in.client_event_id.startswith("poison"):
            raise RuntimeError("a record the batch path cannot decide")
        return await decide(session, settings, batch, it, *args)

    monkeypatch.setattr(intake, "_decide", breaks_on_poison)
    people = await asyncio.gather(*[citizen(client) for _ in range(4)])
    used = event("walking", {"steps": 1000})
    assert (await people[0].post("/v1/events", json=used)).status_code == 201
    rs = await asyncio.gather(
        *[c.post("/v1/events", json=event("walking", {"steps": 2000})) for c in people],
        people[1].post("/v1/events", json=event("walking", {"steps": 10}, cid="poison-1")),
        people[0].post("/v1/events", json={**used, "data": {"steps": 1}}),
        people[2].post("/v1/events", json=event("walking", {"steps": -5})),
        people[3].post("/v1/events", json=event("flying", {"distance_km": 3})),
    )
    assert [r.status_code for r in rs[:4]] == [201] * 4
    assert_problem(rs[4], 500, "internal_error")
    assert_problem(rs[5], 409, "idempotency_conflict")
    assert_problem(rs[6], 422, "validation_error")
    assert_problem(rs[7], 422, "unknown_type")
    assert [await balance(c) for c in people] == [60, 40, 40, 40]
    assert await count(app, Record, Record.client_event_id == "poison-1") == 0


@pytest.mark.parametrize("settings_overrides", [GROUPED])
async def test_a_unit_that_fails_twice_answers_503_to_each_request_and_commits_nothing(
    client, app, monkeypatch
):
    people = await asyncio.gather(*[citizen(client) for _ in range(5)])
    attempts = []

    async def connection_lost(session, settings, kv, items, **kw):
        attempts.append(len(items))
        await session.execute(select(1))
        raise ConnectionResetError("connection reset by peer")

    ingest_many = intake.ingest_many
    monkeypatch.setattr(intake, "ingest_many", connection_lost)
    bodies = [event("transit.metro", METRO_10KM) for _ in people]
    with record_commits(app.state.engine) as commits:
        rs = await asyncio.gather(
            *[c.post("/v1/events", json=b) for c, b in zip(people, bodies, strict=True)]
        )
    for r in rs:
        assert_problem(r, 503, "unavailable")
        assert r.headers["Retry-After"] == "1"
    assert commits.count == 0
    assert len(attempts) % 2 == 0 and sum(attempts) == 2 * len(people)  # each unit tried twice
    assert await count(app, Record) == 0

    # Clients retry the same requests once the database is back.
    monkeypatch.setattr(intake, "ingest_many", ingest_many)
    again = await asyncio.gather(
        *[c.post("/v1/events", json=b) for c, b in zip(people, bodies, strict=True)]
    )
    assert [r.status_code for r in again] == [201] * len(people)
    assert [await balance(c) for c in people] == [467] * len(people)


@pytest.mark.parametrize("settings_overrides", [GROUPED])
async def test_a_unit_lost_once_is_retried_and_every_record_is_answered(client, monkeypatch):
    people = await asyncio.gather(*[citizen(client) for _ in range(3)])
    ingest_many = intake.ingest_many
    failures = [ConnectionResetError("connection reset by peer")]

    async def lost_once(session, settings, kv, items, **kw):
        if failures:
            raise failures.pop()
        return await ingest_many(session, settings, kv, items, **kw)

    monkeypatch.setattr(intake, "ingest_many", lost_once)
    rs = await asyncio.gather(
        *[c.post("/v1/events", json=event("transit.metro", METRO_10KM)) for c in people]
    )
    assert [r.status_code for r in rs] == [201] * 3
    assert [await balance(c) for c in people] == [467] * 3


@pytest.mark.parametrize(
    "settings_overrides",
    [{"record_group_queue": 1, "record_group_wait_ms": 0, "record_group_concurrency": 1}],
)
async def test_a_full_queue_answers_503_at_once(client, app, monkeypatch):
    people = await asyncio.gather(*[citizen(client) for _ in range(3)])
    ingest_many = intake.ingest_many
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow(session, settings, kv, items, **kw):
        entered.set()
        await release.wait()
        return await ingest_many(session, settings, kv, items, **kw)

    monkeypatch.setattr(intake, "ingest_many", slow)
    first = asyncio.create_task(
        people[0].post("/v1/events", json=event("transit.metro", METRO_10KM))
    )
    await asyncio.wait_for(entered.wait(), 10)  # the committer is busy with the first
    second = asyncio.create_task(
        people[1].post("/v1/events", json=event("transit.metro", METRO_10KM))
    )
    committer = app.state.record_committer
    for _ in range(500):  # until the second waits in the queue
        if committer._queue:
            break
        await asyncio.sleep(0.01)
    full = await people[2].post("/v1/events", json=event("transit.metro", METRO_10KM))
    assert_problem(full, 503, "unavailable")
    assert full.headers["Retry-After"] == "1"
    release.set()
    assert [(await first).status_code, (await second).status_code] == [201, 201]
    assert await count(app, Record, Record.user_id == people[2].id) == 0


@pytest.mark.parametrize("settings_overrides", [{"record_group_commit": False}])
async def test_without_grouping_each_record_commits_alone_with_the_same_answers(client, app):
    assert app.state.record_committer is None
    c = await citizen(client)
    at = ago(hours=1)
    body = event("transit.metro", METRO_10KM, at=at)
    with record_commits(app.state.engine) as commits:
        rs = await asyncio.gather(
            *[c.post("/v1/events", json=body) for _ in range(3)],
            c.post("/v1/events", json=event("transit.metro", METRO_10KM, at=at)),
        )
    assert commits.count == 2
    assert sorted(r.status_code for r in rs) == [200, 200, 201, 201]
    assert sorted(r.json()["status"] for r in (rs[0], rs[3])) == ["credited", "rejected"]
    assert await balance(c) == 467


@pytest.mark.parametrize("settings_overrides", [GROUPED])
async def test_records_of_this_minute_in_one_group_read_the_methodology_versions_once(client, app):
    people = await asyncio.gather(*[citizen(client) for _ in range(8)])
    # A record of the last moments may fall under a version published a moment ago by another
    # worker: its unit reads the versions again, but once for all the records it decides.
    reads: list[str] = []

    def executed(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM methodology_versions" in statement:
            reads.append(statement)

    sa_event.listen(app.state.engine.sync_engine, "before_cursor_execute", executed)
    try:
        with record_commits(app.state.engine) as commits:
            rs = await asyncio.gather(
                *[
                    c.post("/v1/events", json=event("walking", {"steps": 4000}, at=ago(seconds=5)))
                    for c in people
                ]
            )
    finally:
        sa_event.remove(app.state.engine.sync_engine, "before_cursor_execute", executed)
    assert [r.status_code for r in rs] == [201] * len(people), [r.text for r in rs]
    assert all(r.json()["status"] == "credited" for r in rs)
    assert 1 <= commits.count < len(people)
    assert len(reads) <= commits.count, reads
