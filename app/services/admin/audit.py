"""The append-only audit log of administrative acts: written by ``record`` (every admin write
calls it, in the act's own transaction), read by ``list_entries`` (filters, newest-first
keyset paging on ``seq``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.kit.pagination import Keyset
from app.models import AuditEntry
from app.security import Actor


async def record(
    session: AsyncSession,
    *,
    actor: Actor | None,
    action: str,
    target_type: str,
    target_id: str | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add one audit row in the caller's transaction: it commits or rolls back with the act."""
    entry = AuditEntry(
        actor_id=actor.id if actor else None,
        actor_role=actor.role if actor else None,
        action=action,
        target_type=target_type,
        target_id=target_id,
        before=before,
        after=after,
        created_at=utcnow(),
    )
    session.add(entry)
    await session.flush()
    return entry


async def record_change(
    session: AsyncSession,
    *,
    actor: Actor | None,
    action: str,
    target_type: str,
    target_id: str,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    """Audit an edit when it changed something: an edit that left the target as it was
    writes no row."""
    if after != before:
        await record(
            session,
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            before=before,
            after=after,
        )


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    actor_id: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None


NEWEST = Keyset((AuditEntry.seq,))


async def list_entries(
    session: AsyncSession, flt: AuditFilter, limit: int, cursor: str | None
) -> tuple[list[AuditEntry], str | None]:
    """Entries matching every given filter, newest first. ``seq`` only grows, so paging on it
    is stable while new entries arrive."""
    query = select(AuditEntry)
    if flt.action:
        query = query.where(AuditEntry.action == flt.action)
    if flt.actor_id:
        query = query.where(AuditEntry.actor_id == flt.actor_id)
    if flt.target_type:
        query = query.where(AuditEntry.target_type == flt.target_type)
    if flt.target_id:
        query = query.where(AuditEntry.target_id == flt.target_id)
    if flt.start:
        query = query.where(AuditEntry.created_at >= flt.start)
    if flt.end:
        query = query.where(AuditEntry.created_at < flt.end)
    return NEWEST.page((await session.scalars(NEWEST.apply(query, cursor, limit))).all(), limit)
