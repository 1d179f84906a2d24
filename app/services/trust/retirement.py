"""An issued batch's way out: retired (claimed as an offset, with a beneficiary) or
transferred (sold, to a holder) exactly once, by a conditional UPDATE, each act audited; and
its export (JSON or CSV, one row per record) for a registry submission."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db import snapshot_reader, utcnow
from app.kit.times import utc_text
from app.models import BatchRecord, Record, ReductionBatch
from app.models.trust import BatchStatus
from app.security import Actor
from app.services.admin import audit
from app.services.trust.batches import audit_view, get, view
from app.services.trust.errors import BatchFinal


async def finalise(
    session: AsyncSession,
    batch_id: str,
    *,
    to: BatchStatus,
    party: str,
    note: str | None,
    actor: Actor,
) -> ReductionBatch:
    """Retire (``party`` is the beneficiary) or transfer (``party`` is the new holder) an
    issued batch: one conditional UPDATE, so of two acts at once exactly one wins."""
    values: dict[str, Any] = {
        "status": to,
        "final_note": note,
        "final_by": actor.id,
        "final_at": utcnow(),
        ("beneficiary" if to == BatchStatus.RETIRED else "holder"): party,
    }
    done = await session.execute(
        update(ReductionBatch)
        .where(ReductionBatch.id == batch_id, ReductionBatch.status == BatchStatus.ISSUED)
        .values(**values)
        .returning(ReductionBatch.id)
    )
    if done.first() is None:
        batch = await get(session, batch_id)
        status = batch.status
        raise BatchFinal(f"The batch is already {status}; it cannot be {to} again.")
    batch = await get(session, batch_id)
    await audit.record(
        session,
        actor=actor,
        action="batch.retired" if to == BatchStatus.RETIRED else "batch.transferred",
        target_type="batch",
        target_id=batch.id,
        before={"status": BatchStatus.ISSUED},
        after=audit_view(batch),
    )
    return batch


def _instant(value: Any) -> str:
    if isinstance(value, datetime):
        return utc_text(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


EXPORT_COLUMNS = (
    "batch_id",
    "record_id",
    "methodology",
    "version",
    "params_hash",
    "occurred_at",
    "region",
    "reduction_g",
)


async def member_rows(session: AsyncSession, batch_id: str) -> AsyncIterator[dict[str, Any]]:
    """The batch's records, in id order, streamed."""
    result = await session.stream(
        select(
            BatchRecord.record_id,
            Record.type,
            Record.version,
            Record.params_hash,
            Record.occurred_at,
            Record.region,
            BatchRecord.reduction_g,
        )
        .join(Record, Record.id == BatchRecord.record_id)
        .where(BatchRecord.batch_id == batch_id)
        .order_by(BatchRecord.record_id)
        .execution_options(yield_per=5000)
    )
    async for row in result:
        yield {
            "batch_id": batch_id,
            "record_id": row.record_id,
            "methodology": row.type,
            "version": row.version,
            "params_hash": row.params_hash,
            "occurred_at": utc_text(row.occurred_at),
            "region": row.region,
            "reduction_g": row.reduction_g,
        }


async def export_stream(engine: AsyncEngine, batch_id: str, as_csv: bool) -> AsyncIterator[str]:
    """A batch for a registry submission, streamed on a connection of its own: CSV (one row
    per record) or JSON (the batch and its records)."""
    async with snapshot_reader(engine) as conn, AsyncSession(bind=conn) as session:
        batch = await get(session, batch_id)
        if as_csv:
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(EXPORT_COLUMNS)
            async for row in member_rows(session, batch_id):
                writer.writerow([row[c] if row[c] is not None else "" for c in EXPORT_COLUMNS])
                if out.tell() > 65536:
                    yield out.getvalue()
                    out.seek(0)
                    out.truncate()
            yield out.getvalue()
            return
        head = json.dumps(view(batch), default=_instant, ensure_ascii=False)
        yield '{"batch":' + head + ',"records":['
        first = True
        async for row in member_rows(session, batch_id):
            yield ("" if first else ",") + json.dumps(row, ensure_ascii=False)
            first = False
        yield "]}\n"
