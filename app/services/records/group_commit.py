"""Group commit of single records: one unit of work for many concurrent ``POST /v1/events``.

A record alone costs a transaction of its own: the citizen's lock, the reads it is checked
against, its inserts and a commit, each a round trip. Per worker, one committer task owns a
bounded queue instead. A request checks its record's schema and hashes it (no database, not
even the citizen's row) and queues ``(citizen id, record, future)``. When one of its
``record_group_concurrency`` units of work is free, the committer takes up to
``record_group_max`` records, or whatever arrived within ``record_group_wait_ms`` of the first,
reads their citizens (region, still active) in one statement, and decides them with the batch
path (``intake.ingest_many``: one ordered lock statement, bulk reads, decisions in memory in
arrival order, bulk inserts) in one unit of work with its after-commit hooks; then it answers
each future with that record's own outcome, exactly as a request of its own would have been
answered. While one unit waits for the database, the next group gathers and starts: units
of work in flight overlap their round trips. Two units that share a citizen queue on that
citizen's ledger lock, taken first and in one global order, so a citizen's records are still
decided one unit after the other; on SQLite, whose writers are serial anyway, one unit at a
time.

Failures:

- one record's failure (conflict, schema) is that record's answer only;
- a failure of the whole unit that a retry may cure (connection lost, serialization failure,
  deadlock, SQLite busy) is retried once, then every record of the group is answered 503 with
  ``Retry-After``; nothing of it was committed, and records are idempotent, so clients retry;
- any other failure of the unit (a record that breaks the batch path) decides each record of
  the group alone, so it fails only the record that causes it;
- a full queue answers 503 at once instead of growing latency without bound.

The answering of a group is shared with the redemptions' groups (``app.kit.groups``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import read_only, session_scope
from app.kit.errors import DomainError, ServiceUnavailable
from app.kit.groups import answer, once_more, settle
from app.kv import KV
from app.observability import RECORD_GROUP_SIZE, RECORD_GROUPS, RECORD_QUEUE_WAIT
from app.schemas.records import RecordIn
from app.services import ledger
from app.services.records import intake

logger = logging.getLogger("tanhui.records.groups")


def _unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "The record could not be committed just now; retry the same request.", retry_after=1
    )


@dataclass(eq=False)
class _Waiting:
    user_id: str
    record: intake.Prepared
    future: asyncio.Future[intake.Outcome]
    since: float


class RecordCommitter:
    """The worker's queue of single records and the task that commits them in groups.

    Started and stopped by the application's lifespan; ``submit`` is safe from any request of
    the same event loop."""

    def __init__(
        self, maker: async_sessionmaker[AsyncSession], settings: Settings, kv: KV | None
    ) -> None:
        self._maker = maker
        self._settings = settings
        self._kv = kv
        self._max = settings.record_group_max
        self._wait = settings.record_group_wait_ms / 1000
        self._engine: AsyncEngine = maker.kw["bind"]
        self._serial = self._engine.dialect.name == "sqlite"
        self._units = asyncio.Semaphore(1 if self._serial else settings.record_group_concurrency)
        self._shards_open = False
        self._queue: deque[_Waiting] = deque()
        self._current: dict[asyncio.Task[None], list[_Waiting]] = {}
        self._arrived = asyncio.Event()  # the queue is not empty
        self._full = asyncio.Event()  # a whole group is waiting
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="record-committer")

    async def stop(self, grace: float = 10.0) -> None:
        """Commit what is queued (for at most ``grace`` seconds), then end the task; records
        still waiting after that are answered 503."""
        self._closing = True
        self._arrived.set()
        self._full.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), grace)
            except TimeoutError:
                late = [w for group in self._current.values() for w in group]
                units = list(self._current)
                self._task.cancel()
                for unit in units:
                    unit.cancel()
                await asyncio.gather(self._task, *units, return_exceptions=True)
                for waiting in late:
                    answer(waiting.future, _unavailable())
        for waiting in self._queue:
            answer(waiting.future, _unavailable())
        self._current, self._queue = {}, deque()

    async def submit(self, user_id: str, record: intake.Prepared) -> intake.Outcome:
        """Queue one prepared record and wait for its outcome. Raises the record's own
        DomainError (409 conflict …), or a 503 when the queue is full or the group's unit of
        work failed."""
        if self._closing or self._task is None or self._task.done():
            raise _unavailable()
        if len(self._queue) >= self._settings.record_group_queue:
            RECORD_GROUPS.labels("queue_full").inc()
            raise ServiceUnavailable(
                "Too many records are waiting in this worker; retry the same request.",
                retry_after=1,
            )
        loop = asyncio.get_running_loop()
        waiting = _Waiting(user_id, record, loop.create_future(), loop.time())
        self._queue.append(waiting)
        self._arrived.set()
        if len(self._queue) >= self._max:
            self._full.set()
        return await waiting.future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                if self._closing:
                    if self._current:
                        await asyncio.gather(*self._current, return_exceptions=True)
                    return
                self._arrived.clear()
                await self._arrived.wait()
                continue
            # A free unit of work first: while all are busy, the next group grows.
            await self._units.acquire()
            # Gather for a few milliseconds after the first record, unless a group is full.
            left = self._queue[0].since + self._wait - loop.time()
            if len(self._queue) < self._max and left > 0 and not self._closing:
                self._full.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), left)
            group = [self._queue.popleft() for _ in range(min(self._max, len(self._queue)))]
            started = loop.time()
            RECORD_GROUP_SIZE.observe(len(group))
            for waiting in group:
                RECORD_QUEUE_WAIT.observe(started - waiting.since)
            unit = loop.create_task(self._decide(group), name="record-group")
            self._current[unit] = group

    async def _decide(self, group: list[_Waiting]) -> None:
        try:
            await settle(group, self._unit, _unavailable, logger, _count)
        except Exception as exc:  # never leave requests waiting
            logger.exception("record group failed unexpectedly")
            for waiting in group:
                answer(waiting.future, exc)
        finally:
            self._current.pop(asyncio.current_task(), None)  # type: ignore[arg-type]
            self._units.release()

    async def _open_accounts(self, found: dict[str, intake.Citizen]) -> None:
        """With units in flight at once (PostgreSQL), the ledger accounts a unit will lock
        are created before it locks anything, on a connection of their own, so that its locks
        are all taken in the global order: new citizens' accounts, and the issuance shards the
        first time."""
        if self._serial:
            return
        missing = [
            account
            for c in found.values()
            if not c.has_accounts
            for account in ledger.user_accounts(c.id)
        ]
        if not self._shards_open:
            missing += ledger.platform_shards("issuance")
        if missing:
            async with read_only(self._engine) as conn:
                await ledger.open_accounts(conn, missing)
        self._shards_open = True

    async def _unit(self, group: Sequence[_Waiting]) -> list[intake.Outcome | DomainError]:
        """The group's one unit of work, run a second time if the first failed for a reason
        of the moment (the first committed nothing)."""

        async def run() -> list[intake.Outcome | DomainError]:
            async with session_scope(self._maker) as session:
                # The citizens (region, still active) first: a read that locks nothing.
                found = await intake.citizens(session, [w.user_id for w in group])
                await self._open_accounts(found)
                items = [
                    (found.get(w.user_id), w.record if w.user_id in found else intake.revoked())
                    for w in group
                ]
                return await intake.ingest_many(session, self._settings, self._kv, items)

        return await once_more(run, logger, count=_count)


def _count(end: str) -> None:
    RECORD_GROUPS.labels(end).inc()


async def ingest_single(
    maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    kv: KV | None,
    committer: RecordCommitter | None,
    user_id: str,
    record_in: RecordIn,
) -> intake.Outcome:
    """One record of ``POST /v1/events``: with the worker's committer, decided in a group;
    without, alone in a unit of work of its own."""
    prepared = intake.prepare(record_in)  # a schema error is answered without waiting
    if committer is not None:
        return await committer.submit(user_id, prepared)
    async with session_scope(maker) as session:
        owner = await intake.citizen(session, user_id)
        [outcome] = await intake.ingest_many(session, settings, kv, [(owner, prepared)])
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome
