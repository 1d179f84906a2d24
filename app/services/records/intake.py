"""Behaviour records: verify, quantify and credit, exactly once per (user, client_event_id).

One record's path: schema (422, nothing stored) → the citizen's ledger lock (serialises
that citizen's records, which makes the idempotency check, the overlap check and the daily cap
race-free) → idempotency (a replay returns the stored result; other content under the same id
is a 409) → the methodology version in force at ``occurred_at`` → time window, plausibility
and overlap (rejected, with reasons) → review (pending) → daily cap → ledger credit, in the
same transaction as the record. The unique constraint on (user_id, client_event_id) backs it
all. A single record and a batch take the same path; a batch does each step for all its
records at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import after_commit, insert_ignore, new_id, utcnow
from app.kit.bulk import insert_rows, together
from app.kit.errors import (
    DomainError,
    InvalidState,
)
from app.kv import KV
from app.models import DailyUsage, MethodologyVersion, Partner, Record
from app.models.records import Reason, RecordSource, RecordStatus
from app.observability import POINTS_CREDITED, RECORDS, REDUCTION_G, REJECTION_REASONS
from app.rules import Context, points_for, registry, resolve
from app.schemas.records import RecordIn
from app.services import ledger
from app.services.communities import stats as organisation_stats
from app.services.ledger.accounts import table
from app.services.methodologies.facts import facts_for
from app.services.methodologies.versions import parsed, version_in_force
from app.services.records import leaderboards
from app.services.records.batch import Batch, Item
from app.services.records.prepared import (
    AnyRecord,
    Citizen,
    NewRecord,
    Outcome,
    Owner,
    Prepared,
    _canonical,
    _replay,
    citizen,
    citizens,
    content_hash,
    parse,
    prepare,
    revoked,
)
from app.services.records.writes import (
    _capped,
    _credit_for,
    _local_day,
    _row,
)

__all__ = [
    "Citizen",
    "Outcome",
    "Owner",
    "Prepared",
    "_canonical",
    "apply_credit",
    "citizen",
    "citizens",
    "content_hash",
    "ingest",
    "ingest_many",
    "parse",
    "prepare",
    "revoked",
]


async def ingest(
    session: AsyncSession,
    settings: Settings,
    kv: KV | None,
    user: Owner,
    item: RecordIn,
    *,
    partner: Partner | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Verify, quantify and (maybe) credit one record. Raises a DomainError for a record that
    must not be stored (schema, unknown type, idempotency conflict)."""
    [outcome] = await ingest_many(session, settings, kv, [(user, item)], partner=partner, now=now)
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


async def ingest_many(
    session: AsyncSession,
    settings: Settings,
    kv: KV | None,
    items: Sequence[tuple[Owner | None, RecordIn | Prepared | DomainError]],
    *,
    partner: Partner | None = None,
    merchant_id: str | None = None,
    now: datetime | None = None,
) -> list[Outcome | DomainError]:
    """Records in one transaction, decided in order as if posted one by one; an item that
    fails (schema, unknown type, idempotency conflict) stores nothing and fails alone. The
    items may be of several citizens (a group of single records) and already prepared.

    Every citizen involved is locked first, in one ordered statement; what the records are
    checked against is then read in a few queries, each record is decided in memory, and the
    stored rows, ledger transactions, entries and lots are written in bulk."""
    now = now or utcnow()
    out: list[Outcome | DomainError | None] = [None] * len(items)
    todo: list[Item] = []
    for i, (user, record_in) in enumerate(items):
        if isinstance(record_in, DomainError):
            out[i] = record_in
            continue
        assert user is not None
        try:
            p = record_in if isinstance(record_in, Prepared) else prepare(record_in)
        except DomainError as exc:
            out[i] = exc
            continue
        todo.append(Item(i, user, p.record_in, p.m, p.data, p.digest))
    if todo:
        # The citizens and the one issuance shard of the unit's credits, in one statement.
        issuance = ledger.platform_account("issuance", todo[0].user.id)
        await ledger.lock_users(session, sorted({it.user.id for it in todo}), issuance)
        batch = await Batch.load(session, todo, settings)
        new: list[NewRecord] = []
        credits: list[tuple[NewRecord, ledger.Credit]] = []
        for it in todo:
            try:
                out[it.index] = await _decide(
                    session, settings, batch, it, partner, merchant_id, now, new, credits
                )
            except DomainError as exc:
                out[it.index] = exc
        # The postings, the days' usage and the records: one statement on PostgreSQL.
        async with together(session):
            txn_ids = await ledger.credit_many(session, [c for _, c in credits], issuance)
            for (record, _), txn_id in zip(credits, txn_ids, strict=True):
                record.transaction_id = txn_id
            await batch.save_usage(session)
            await insert_rows(session, table(Record), [_row(record) for record in new])
        # Only citizens who were ever members can add to an organisation's figures.
        members = {it.user.id for it in todo if getattr(it.user, "in_organisations", True)}
        counted = [record for record, _ in credits if record.user_id in members]
        if counted:
            await organisation_stats.count_credited(session, counted)
        for record in new:
            if kv is not None and record.status == RecordStatus.CREDITED and record.reduction_g > 0:
                leaderboards.count_after_commit(session, kv, settings, record)
        _count(session, new)
    return [o for o in out if o is not None]


async def _decide(
    session: AsyncSession,
    settings: Settings,
    batch: Batch,
    it: Item,
    partner: Partner | None,
    merchant_id: str | None,
    now: datetime,
    new: list[NewRecord],
    credits: list[tuple[NewRecord, ledger.Credit]],
) -> Outcome:
    user, record_in, m = it.user, it.record_in, it.m
    if (found := batch.by_id.get((user.id, record_in.client_event_id))) is not None:
        return _replay(found, it.digest)
    occurred_at = record_in.occurred_at
    in_force = await version_in_force(session, m, occurred_at)
    # Merchant staff post only the purchases they rang up at their own till.
    trusted = merchant_id is not None or (
        partner is not None and m.code in (partner.allowed_types or [])
    )
    facts = await facts_for(session, m.code, it.data, occurred_at)
    result = m.evaluate(
        it.data, in_force.params, Context(region=user.region, trusted=trusted, facts=facts)
    )
    duration = m.duration(it.data)
    span = (occurred_at - duration, occurred_at) if duration else (None, None)

    reasons = list(result.reasons)
    if occurred_at > now + timedelta(seconds=settings.future_tolerance_seconds):
        reasons.insert(0, Reason.IN_FUTURE)
    elif occurred_at < now - timedelta(days=settings.late_window_days):
        reasons.insert(0, Reason.TOO_LATE)
    if not reasons and span[0] is not None and batch.overlaps(user.id, span[0], occurred_at):
        reasons.append(Reason.OVERLAPPING_ACTIVITY)

    record = NewRecord(
        id=new_id(),
        user_id=user.id,
        client_event_id=record_in.client_event_id,
        content_hash=it.digest,
        type=m.code,
        occurred_at=occurred_at,
        received_at=now,
        data=_canonical(it.data.model_dump(exclude_none=True)),
        source=RecordSource.PARTNER
        if partner
        else RecordSource.MERCHANT
        if merchant_id
        else RecordSource.APP,
        partner_id=partner.id if partner else None,
        region=user.region,
        local_day=_local_day(occurred_at, settings),
        span_start=span[0],
        span_end=span[1],
        status=RecordStatus.REJECTED,
        reasons=reasons,
        # A rejected record reduced nothing; what was computed stays in the breakdown.
        reduction_g=0 if reasons else result.reduction_g,
        points=0,
        version_id=in_force.version.id,
        version=in_force.version.version,
        params_hash=in_force.version.params_hash,
        breakdown={
            **result.breakdown,
            "methodology": m.code,
            "version": in_force.version.version,
            "params_hash": in_force.version.params_hash,
            "trusted_source": trusted,
        },
    )
    if not reasons:
        if result.needs_review:
            record.status = RecordStatus.PENDING_REVIEW
            record.reasons = [Reason.NEEDS_REVIEW]
        else:
            params = resolve(in_force.params, user.region)
            points = _capped(
                record,
                points_for(result.reduction_g, params),
                params.daily_cap_points,
                batch.used(user.id, m.code, record.local_day),
            )
            batch.use(user.id, m.code, record.local_day, points)
            credits.append((record, _credit_for(record, points, settings, now)))
    if record.status != RecordStatus.REJECTED and span[0] is not None:
        batch.spans.setdefault(user.id, []).append((span[0], occurred_at))
    batch.by_id[(user.id, record_in.client_event_id)] = record
    new.append(record)
    return Outcome(record, created=True)


async def apply_credit(
    session: AsyncSession, settings: Settings, record: Record, now: datetime, kv: KV | None = None
) -> None:
    """Credit a record held for review, as of the decision: the version stored on the record
    gives the points, the daily cap of the record's own local day applies with what that day
    has used by now, and the ledger posting carries the record's idempotent ref."""
    if record.status != RecordStatus.PENDING_REVIEW:
        raise InvalidState(f"The record is {record.status}, not pending_review.")
    await ledger.lock_user(session, record.user_id)
    m = registry.get(record.type)
    version = await session.get(MethodologyVersion, record.version_id)
    assert m is not None and version is not None
    params = resolve(parsed(m, version), record.region)
    record.reasons = [r for r in record.reasons if r != Reason.NEEDS_REVIEW]
    key = {"user_id": record.user_id, "code": record.type, "day": record.local_day}
    await session.execute(insert_ignore(session, DailyUsage, [{**key, "points": 0}]))
    usage = await session.scalar(
        select(DailyUsage)
        .where(
            DailyUsage.user_id == record.user_id,
            DailyUsage.code == record.type,
            DailyUsage.day == record.local_day,
        )
        .execution_options(populate_existing=True)
    )
    assert usage is not None
    points = _capped(
        record, points_for(record.reduction_g, params), params.daily_cap_points, usage.points
    )
    usage.points += points
    [record.transaction_id] = await ledger.credit_many(
        session, [_credit_for(record, points, settings, now)]
    )
    if kv is not None and record.reduction_g > 0:
        leaderboards.count_after_commit(session, kv, settings, record)
    await session.flush()
    await organisation_stats.count_credited(session, [record])
    _count(session, [record])


def _count(session: AsyncSession, records: Sequence[AnyRecord]) -> None:
    """The unit's records in the metrics once it commits, one increment per label set."""
    if not records:
        return
    decided: Counter[tuple[str, str]] = Counter()
    reasons: Counter[str] = Counter()
    points: Counter[str] = Counter()
    grams: Counter[str] = Counter()
    for record in records:
        decided[(record.type, record.status)] += 1
        reasons.update(record.reasons)
        if record.status == RecordStatus.CREDITED:
            points[record.type] += record.points
            grams[record.type] += record.reduction_g

    async def inc() -> None:
        for (code, status), n in decided.items():
            RECORDS.labels(code, status).inc(n)
        for reason, n in reasons.items():
            REJECTION_REASONS.labels(reason).inc(n)
        for code, n in points.items():
            POINTS_CREDITED.labels(code).inc(n)
        for code, n in grams.items():
            REDUCTION_G.labels(code).inc(n)

    after_commit(session, inc)
