"""Verified-reduction batches.

An administrator issues a batch over a range of occurrence times (optionally one methodology
and one region): every credited, unreversed record of the range not yet in a batch joins it.
Membership is a row per record with the record id as primary key, so two batches issued at
once can never hold the same record: the second insert waits for the first and skips what
it took (``ON CONFLICT DO NOTHING``).

Serials: one per whole tonne, ``TANHUI-<region>-<vintage>-<n>`` (``CN`` when no region is
given; the vintage is the year the reductions occurred). Each prefix is a series whose row
is locked while one of its batches is issued: it gives the next serial and the grams carried
over from the last batch (under a tonne), which count towards this batch's first tonne.

Reversing a record of a batch books its grams to the batch's ``buffer_deduction_g``. What
happens to a batch once issued (retired or transferred once, exported for a registry) is in
``app.services.trust.retirement``. Every act is in the audit log.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import and_, exists, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import new_id, utcnow
from app.kit.errors import NotFound, ValidationFailed
from app.kit.pagination import Keyset
from app.models import BatchRecord, BatchSeries, Record, ReductionBatch
from app.models.records import RecordStatus
from app.models.trust import GRAMS_PER_TONNE, BatchStatus
from app.security import Actor
from app.services.admin import audit
from app.services.ledger.proofs import canonical
from app.services.trust.errors import NothingToIssue

PLATFORM = "TANHUI"
SERIAL_RE = re.compile(r"^(TANHUI-[A-Z0-9]{1,8}-\d{4})-(\d{6,18})$")


def serial(prefix: str, n: int) -> str:
    return f"{prefix}-{n:06d}"


def _prefix(region: str | None, vintage: int) -> str:
    code = region.rsplit("-", 1)[-1] if region else "CN"
    return f"{PLATFORM}-{code}-{vintage}"


@dataclass(frozen=True)
class BatchTerms:
    start: datetime
    end: datetime
    methodology: str | None
    region: str | None
    note: str | None


def _vintage(req: BatchTerms, tz: tzinfo) -> int:
    if req.start >= req.end:
        raise ValidationFailed(
            "from must be before to.", errors=[{"field": "to", "message": "not after from"}]
        )
    try:
        first = req.start.astimezone(tz).year
        last = (req.end.astimezone(tz) - timedelta(microseconds=1)).year
        for at in (req.start, req.end):
            at.astimezone(UTC)  # what the database will be given
    except OverflowError:
        raise ValidationFailed(
            "from and to must be times the calendar can hold.",
            errors=[{"field": "from", "message": "out of range"}],
        ) from None
    if first != last:
        raise ValidationFailed(
            "A batch holds reductions of one vintage: from and to must fall in one year.",
            errors=[{"field": "to", "message": f"not in {first}"}],
        )
    return first


async def _lock_series(session: AsyncSession, prefix: str) -> BatchSeries:
    dialect = session.get_bind().dialect.name
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(BatchSeries)
    await session.execute(
        stmt.values(prefix=prefix, next_serial=1, carry_g=0).on_conflict_do_nothing()
    )
    series = await session.scalar(
        select(BatchSeries)
        .where(BatchSeries.prefix == prefix)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert series is not None
    return series


async def issue(
    session: AsyncSession, req: BatchTerms, *, actor: Actor, tz: tzinfo
) -> ReductionBatch:
    vintage = _vintage(req, tz)
    prefix = _prefix(req.region, vintage)
    series = await _lock_series(session, prefix)
    batch = ReductionBatch(
        id=new_id(),
        created_at=utcnow(),
        prefix=prefix,
        serial_from=series.next_serial,  # provisional until the members are counted
        serial_to=series.next_serial,
        tonnes=1,
        reduction_g=0,
        records=0,
        carried_in_g=series.carry_g,
        carried_out_g=0,
        buffer_deduction_g=0,
        methodology=req.methodology,
        region=req.region,
        vintage=vintage,
        range_from=req.start,
        range_to=req.end,
        versions=[],
        hash="",
        status=BatchStatus.ISSUED,
        note=req.note,
        issued_by=actor.id,
    )
    session.add(batch)
    await session.flush()

    r = Record
    candidates = select(r.id, literal(batch.id), r.reduction_g).where(
        r.status == RecordStatus.CREDITED,
        r.reversed_at.is_(None),
        r.reduction_g > 0,
        r.occurred_at >= req.start,
        r.occurred_at < req.end,
        ~exists().where(BatchRecord.record_id == r.id),
    )
    if req.methodology:
        candidates = candidates.where(r.type == req.methodology)
    if req.region:
        candidates = candidates.where(r.region == req.region)
    # Inserted in record id order: two batches racing for the same records wait for each
    # other in the same order, never in a cycle (no deadlock).
    candidates = candidates.order_by(r.id)
    dialect = session.get_bind().dialect.name
    members = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(BatchRecord)
    await session.execute(
        members.from_select(
            ["record_id", "batch_id", "reduction_g"], candidates
        ).on_conflict_do_nothing()
    )
    count, grams = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(BatchRecord.reduction_g), 0)).where(
                BatchRecord.batch_id == batch.id
            )
        )
    ).one()
    total = int(grams) + series.carry_g
    tonnes, rest = divmod(total, GRAMS_PER_TONNE)
    if tonnes < 1:
        records, reduction_g, carried_g = int(count), int(grams), series.carry_g
        raise NothingToIssue(
            f"Records in range: {records}, with {reduction_g} g and {carried_g} g carried over: "
            "less than a tonne, so nothing was issued.",
            records=int(count),
            reduction_g=int(grams),
            carried_in_g=series.carry_g,
        )
    batch.serial_to = series.next_serial + tonnes - 1
    batch.tonnes = tonnes
    batch.reduction_g = int(grams)
    batch.records = int(count)
    batch.carried_out_g = rest
    batch.versions = await _versions(session, batch.id)
    batch.hash = await _hash(session, batch)
    series.next_serial += tonnes
    series.carry_g = rest
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="batch.issued",
        target_type="batch",
        target_id=batch.id,
        after=audit_view(batch),
    )
    return batch


async def _versions(session: AsyncSession, batch_id: str) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(Record.type, Record.version, Record.params_hash, func.count())
        .join(BatchRecord, BatchRecord.record_id == Record.id)
        .where(BatchRecord.batch_id == batch_id)
        .group_by(Record.type, Record.version, Record.params_hash)
        .order_by(Record.type, Record.version)
    )
    return [
        {"methodology": t, "version": v, "params_hash": h, "records": int(n)} for t, v, h, n in rows
    ]


async def _hash(session: AsyncSession, batch: ReductionBatch) -> str:
    """SHA-256 over the batch's terms and its members (record id and grams, in id order),
    streamed so a batch of any size hashes in flat memory."""
    members = hashlib.sha256()
    result = await session.stream(
        select(BatchRecord.record_id, BatchRecord.reduction_g)
        .where(BatchRecord.batch_id == batch.id)
        .order_by(BatchRecord.record_id)
        .execution_options(yield_per=5000)
    )
    async for record_id, grams in result:
        members.update(f"{record_id}:{grams}\n".encode())
    terms = {
        "id": batch.id,
        "serial_from": serial(batch.prefix, batch.serial_from),
        "serial_to": serial(batch.prefix, batch.serial_to),
        "tonnes": batch.tonnes,
        "reduction_g": batch.reduction_g,
        "records": batch.records,
        "carried_in_g": batch.carried_in_g,
        "carried_out_g": batch.carried_out_g,
        "methodology": batch.methodology,
        "region": batch.region,
        "vintage": batch.vintage,
        "from": batch.range_from.isoformat(),
        "to": batch.range_to.isoformat(),
        "versions": batch.versions,
        "members": members.hexdigest(),
    }
    return hashlib.sha256(canonical(terms)).hexdigest()


def audit_view(batch: ReductionBatch) -> dict[str, Any]:
    return {
        "serial_from": serial(batch.prefix, batch.serial_from),
        "serial_to": serial(batch.prefix, batch.serial_to),
        "tonnes": batch.tonnes,
        "reduction_g": batch.reduction_g,
        "records": batch.records,
        "status": batch.status,
        "holder": batch.holder,
        "beneficiary": batch.beneficiary,
        "hash": batch.hash,
    }


async def _get(session: AsyncSession, batch_id: str) -> ReductionBatch:
    batch = await session.get(ReductionBatch, batch_id, populate_existing=True)
    if batch is None:
        raise NotFound(f"No batch {batch_id}.")
    return batch


async def get(session: AsyncSession, batch_id: str) -> ReductionBatch:
    return await _get(session, batch_id)


async def record_reversed(session: AsyncSession, record_id: str, grams: int) -> str | None:
    """A reversed record's grams are lost to its batch, if it is in one: booked to the batch's
    ``buffer_deduction_g``. Returns the batch id."""
    batch_id = await session.scalar(
        select(BatchRecord.batch_id).where(BatchRecord.record_id == record_id)
    )
    if batch_id is None or grams <= 0:
        return batch_id
    await session.execute(
        update(ReductionBatch)
        .where(ReductionBatch.id == batch_id)
        .values(buffer_deduction_g=ReductionBatch.buffer_deduction_g + grams)
    )
    return batch_id


NEWEST = Keyset((ReductionBatch.created_at, ReductionBatch.id))


async def page(
    session: AsyncSession, limit: int, cursor: str | None, status: str | None = None
) -> tuple[list[ReductionBatch], str | None]:
    query = select(ReductionBatch)
    if status:
        query = query.where(ReductionBatch.status == status)
    return NEWEST.page((await session.scalars(NEWEST.apply(query, cursor, limit))).all(), limit)


async def by_serial(session: AsyncSession, text: str) -> tuple[ReductionBatch, int]:
    match = SERIAL_RE.match(text.strip().upper())
    if match is None:
        raise NotFound(f"{text} is not a serial of this platform.")
    prefix, n = match.group(1), int(match.group(2))
    batch = await session.scalar(
        select(ReductionBatch).where(
            and_(
                ReductionBatch.prefix == prefix,
                ReductionBatch.serial_from <= n,
                ReductionBatch.serial_to >= n,
            )
        )
    )
    if batch is None:
        raise NotFound(f"No batch holds the serial {text}.")
    return batch, n


def view(batch: ReductionBatch) -> dict[str, Any]:
    """The batch as the API shows it (admins and the public alike: nothing personal)."""
    return {
        "id": batch.id,
        "serial_from": serial(batch.prefix, batch.serial_from),
        "serial_to": serial(batch.prefix, batch.serial_to),
        "tonnes": batch.tonnes,
        "reduction_g": batch.reduction_g,
        "records": batch.records,
        "carried_in_g": batch.carried_in_g,
        "carried_out_g": batch.carried_out_g,
        "buffer_deduction_g": batch.buffer_deduction_g,
        "status": batch.status,
        "holder": batch.holder,
        "beneficiary": batch.beneficiary,
        "methodology": batch.methodology,
        "region": batch.region,
        "vintage": batch.vintage,
        "from": batch.range_from,
        "to": batch.range_to,
        "versions": batch.versions,
        "hash": batch.hash,
        "note": batch.note,
        "issued_at": batch.created_at,
        "final_at": batch.final_at,
    }
