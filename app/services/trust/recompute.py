"""Recompute audits: every credited record of a range re-run through its methodology with its
stored inputs and its stored parameter version, through the simulation's own evaluation
(``tuning.evaluate_stored``); a record whose grams or points differ is a mismatch.

Points: a record's stored points equal what its grams give under its version, except when
the daily cap (``daily_cap_reached``) left it fewer, never more.

The records are streamed in chunks (memory stays flat however long the range); progress and
the first mismatches are written to the run's row after every chunk, so ``GET
/v1/admin/audits/{id}`` shows a running audit as it goes. A run is a background task of the
worker that accepted it, or the ``tanhui audit recompute`` command.

A process can end in the middle of a run (a restart, a deploy). So a running run writes a
heartbeat every ``HEARTBEAT_S`` seconds, and a run whose heartbeat is older than ``STALE_S``
is marked ``interrupted`` when it is read and when another run is requested; a run that
finds itself marked so stops. A new run can always be started.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from tqdm import tqdm

from app.config import Settings
from app.db import (
    after_commit,
    make_engine,
    make_sessionmaker,
    session_scope,
    snapshot_reader,
    utcnow,
)
from app.kit.errors import NotFound, ValidationFailed
from app.models import AuditRun, MethodologyVersion, Record
from app.models.records import Reason, RecordStatus
from app.models.trust import AuditRunStatus
from app.rules import BaseParams, Methodology, points_for, registry, resolve
from app.security import Actor
from app.services.admin import audit
from app.services.methodologies.facts import PRELOADS, Facts, no_facts, preloaded
from app.services.methodologies.tuning import evaluate_stored
from app.services.methodologies.versions import parsed

log = logging.getLogger(__name__)
CHUNK = 5000
KEEP_MISMATCHES = 1000  # listed on the run; every one is counted
HEARTBEAT_S = 10.0
STALE_S = 60.0  # a running run silent this long was cut off
_running: set[asyncio.Task[None]] = set()


@dataclass(frozen=True)
class Scope:
    start: datetime | None
    end: datetime | None
    methodology: str | None

    def check(self) -> None:
        try:
            for at in (self.start, self.end):
                if at is not None:
                    at.astimezone(UTC)
        except OverflowError:
            raise ValidationFailed(
                "from and to must be times the calendar can hold.",
                errors=[{"field": "from", "message": "out of range"}],
            ) from None
        if self.start and self.end and self.start >= self.end:
            raise ValidationFailed(
                "from must be before to.", errors=[{"field": "to", "message": "not after from"}]
            )
        if self.methodology and registry.get(self.methodology) is None:
            raise ValidationFailed(
                f"No methodology {self.methodology}.",
                errors=[{"field": "methodology", "message": "unknown"}],
            )

    def params(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
            "methodology": self.methodology,
        }


async def _count(session: AsyncSession, scope: Scope) -> int:
    return int(await session.scalar(_filter(select(func.count()).select_from(Record), scope)) or 0)


def _filter(query: Any, scope: Scope) -> Any:
    query = query.where(Record.status == RecordStatus.CREDITED)
    if scope.start:
        query = query.where(Record.occurred_at >= scope.start)
    if scope.end:
        query = query.where(Record.occurred_at < scope.end)
    if scope.methodology:
        query = query.where(Record.type == scope.methodology)
    return query


class _Versions:
    """Each stored version's parameters, parsed once and resolved once per region."""

    def __init__(self) -> None:
        self.rows: dict[str, MethodologyVersion] = {}
        self.regional: dict[tuple[str, str | None], BaseParams] = {}

    async def load(self, session: AsyncSession) -> None:
        self.rows = {v.id: v for v in (await session.scalars(select(MethodologyVersion))).all()}

    def params(self, m: Methodology, version_id: str, region: str | None) -> BaseParams:
        key = (version_id, region)
        found = self.regional.get(key)
        if found is None:
            found = resolve(parsed(m, self.rows[version_id]), region)
            self.regional[key] = found
        return found


def check_one(
    m: Methodology, params: BaseParams, row: Any, facts_of: Facts = no_facts
) -> dict[str, Any] | None:
    """The mismatch of one stored record, or None when it recomputes the same."""
    outcome = evaluate_stored(m, params, row, facts_of)
    grams = outcome.reduction_g
    wanted = points_for(grams, params)
    capped = Reason.DAILY_CAP_REACHED in (row.reasons or [])
    points_ok = 0 <= row.points <= wanted if capped else row.points == wanted
    if grams == row.reduction_g and points_ok and not outcome.reasons:
        return None
    return {
        "record_id": row.id,
        "methodology": row.type,
        "version": row.version,
        "stored": {"reduction_g": row.reduction_g, "points": row.points},
        "recomputed": {"reduction_g": grams, "points": wanted, "reasons": list(outcome.reasons)},
        "daily_cap_reached": capped,
    }


async def run(
    engine: AsyncEngine,
    maker: async_sessionmaker[AsyncSession],
    run_id: str,
    on_progress: Callable[[int], None] | None = None,
) -> None:
    """Carry out a recorded run to its end, writing progress after every chunk."""
    async with session_scope(maker) as session:
        row = await session.get(AuditRun, run_id)
        if row is None:
            raise NotFound(f"No audit {run_id}.")
        p = row.params
        scope = Scope(
            datetime.fromisoformat(p["from"]) if p.get("from") else None,
            datetime.fromisoformat(p["to"]) if p.get("to") else None,
            p.get("methodology"),
        )
    checked, count = 0, 0
    kept: list[dict[str, Any]] = []
    beating = asyncio.get_running_loop().create_task(_heartbeat(maker, run_id))
    try:
        versions = _Versions()
        async with snapshot_reader(engine) as conn, AsyncSession(bind=conn) as reader:
            await versions.load(reader)
            # Looked up before the stream: the reader cannot query while it streams.
            facts = {code: await preloaded(reader, code) for code in PRELOADS}
            query = _filter(
                select(
                    Record.id,
                    Record.type,
                    Record.version,
                    Record.version_id,
                    Record.data,
                    Record.region,
                    Record.source,
                    Record.occurred_at,
                    Record.reasons,
                    Record.reduction_g,
                    Record.points,
                ),
                scope,
            ).execution_options(yield_per=CHUNK)
            methodologies: dict[str, Methodology | None] = {}
            result = await reader.stream(query)
            async for chunk in result.partitions(CHUNK):
                for r in chunk:
                    m = methodologies.get(r.type)
                    if m is None:
                        m = methodologies[r.type] = registry.get(r.type)
                    if m is None:
                        mismatch: dict[str, Any] | None = {
                            "record_id": r.id,
                            "methodology": r.type,
                            "problem": "unknown methodology",
                        }
                    else:
                        mismatch = check_one(
                            m,
                            versions.params(m, r.version_id, r.region),
                            r,
                            facts.get(r.type, no_facts),
                        )
                    if mismatch is not None:
                        count += 1
                        if len(kept) < KEEP_MISMATCHES:
                            kept.append(mismatch)
                checked += len(chunk)
                if not await _save(
                    maker, run_id, checked=checked, mismatch_count=count, mismatches=kept
                ):
                    log.warning("recompute audit %s was marked interrupted: stopping", run_id)
                    return
                if on_progress:
                    on_progress(len(chunk))
        await _save(
            maker,
            run_id,
            checked=checked,
            mismatch_count=count,
            mismatches=kept,
            status=AuditRunStatus.DONE,
            finished_at=utcnow(),
        )
    except Exception as exc:  # the run must end with a status, whatever failed
        log.exception("recompute audit %s failed", run_id)
        await _save(
            maker,
            run_id,
            status=AuditRunStatus.FAILED,
            error=f"{type(exc).__name__}: {exc}",
            finished_at=utcnow(),
        )
    finally:
        beating.cancel()


async def _heartbeat(maker: async_sessionmaker[AsyncSession], run_id: str) -> None:
    """Tell readers the run is alive, until it ends (cancelled) or is no longer running."""
    while True:
        await asyncio.sleep(HEARTBEAT_S)
        try:
            if not await _save(maker, run_id):
                return
        except Exception:  # a missed beat is not the run's failure; the next one may pass
            log.warning("recompute audit %s: heartbeat not written", run_id, exc_info=True)


async def _save(maker: async_sessionmaker[AsyncSession], run_id: str, **values: Any) -> bool:
    """Write progress (and the heartbeat) of a run still running; False when it is not."""
    async with session_scope(maker) as session:
        result = await session.execute(
            update(AuditRun)
            .where(AuditRun.id == run_id, AuditRun.status == AuditRunStatus.RUNNING)
            .values(heartbeat_at=utcnow(), **values)
        )
        return bool(getattr(result, "rowcount", 0))


async def mark_interrupted(session: AsyncSession, run_id: str | None = None) -> None:
    """Mark ``interrupted`` every running run (or the one given) whose heartbeat is stale."""
    now = utcnow()
    stale = now - timedelta(seconds=STALE_S)
    query = update(AuditRun).where(
        AuditRun.status == AuditRunStatus.RUNNING,
        (AuditRun.heartbeat_at.is_(None)) | (AuditRun.heartbeat_at < stale),
    )
    if run_id is not None:
        query = query.where(AuditRun.id == run_id)
    await session.execute(
        query.values(
            status=AuditRunStatus.INTERRUPTED,
            finished_at=now,
            error="interrupted: the process running it ended (no heartbeat since "
            f"{STALE_S:.0f} s); start a new run",
        ).execution_options(synchronize_session=False)
    )


async def _create(session: AsyncSession, scope: Scope, actor: Actor | None) -> AuditRun:
    scope.check()
    await mark_interrupted(session)
    row = AuditRun(
        kind="recompute",
        status=AuditRunStatus.RUNNING,
        params=scope.params(),
        checked=0,
        mismatch_count=0,
        mismatches=[],
        requested_by=actor.id if actor else None,
        created_at=utcnow(),
        heartbeat_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="audit.recompute_started",
        target_type="audit",
        target_id=row.id,
        after=scope.params(),
    )
    return row


async def start(
    session: AsyncSession,
    engine: AsyncEngine,
    maker: async_sessionmaker[AsyncSession],
    scope: Scope,
    actor: Actor,
) -> AuditRun:
    """Record a run and start it in the background once the request has committed."""
    row = await _create(session, scope, actor)
    run_id = row.id

    async def launch() -> None:
        task = asyncio.get_running_loop().create_task(run(engine, maker, run_id))
        _running.add(task)
        task.add_done_callback(_running.discard)

    after_commit(session, launch)
    return row


async def get(session: AsyncSession, run_id: str) -> AuditRun:
    await mark_interrupted(session, run_id)
    row = await session.get(AuditRun, run_id, populate_existing=True)
    if row is None:
        raise NotFound(f"No audit {run_id}.")
    return row


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    at = datetime.fromisoformat(value)
    if at.tzinfo is None:
        raise ValueError(f"{value}: give a time zone offset")
    return at


async def run_from_cli(
    settings: Settings,
    *,
    start: str | None,
    end: str | None,
    methodology: str | None,
    progress: bool,
) -> dict[str, Any]:
    """``tanhui audit recompute``: the same run, in this process, with a progress bar."""
    scope = Scope(_when(start), _when(end), methodology)
    engine = make_engine(settings.database_url, pool_size=2)
    try:
        maker = make_sessionmaker(engine)
        async with session_scope(maker) as session:
            try:
                row = await _create(session, scope, None)
            except ValidationFailed as exc:
                raise ValueError(exc.detail) from None
            total = await _count(session, scope)
            run_id = row.id
        with tqdm(total=total, unit="record", desc="recomputing", disable=not progress) as bar:
            await run(engine, maker, run_id, bar.update)
        async with session_scope(maker) as session:
            done = await get(session, run_id)
            return {
                "id": done.id,
                "status": done.status,
                "checked": done.checked,
                "mismatch_count": done.mismatch_count,
                "mismatches": done.mismatches[:20],
                "error": done.error,
            }
    finally:
        await engine.dispose()
