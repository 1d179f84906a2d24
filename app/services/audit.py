"""The append-only audit log of administrative acts. Every admin write calls ``record``."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.models import AuditEntry


async def record(
    session: AsyncSession,
    *,
    actor_id: str | None,
    actor_role: str | None,
    action: str,
    target_type: str,
    target_id: str | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add one audit row in the caller's transaction: it commits or rolls back with the act."""
    entry = AuditEntry(
        actor_id=actor_id,
        actor_role=actor_role,
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
