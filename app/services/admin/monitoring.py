"""Figures for the operators' gauges: the review queue and the points citizens hold."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Record
from app.models.ledger import AccountSummary
from app.models.records import RecordStatus


async def figures(session: AsyncSession) -> dict[str, Any]:
    queue = await session.scalar(
        select(func.count()).where(Record.status == RecordStatus.PENDING_REVIEW)
    )
    available, held = (
        await session.execute(
            select(
                func.coalesce(func.sum(AccountSummary.available), 0),
                func.coalesce(func.sum(AccountSummary.held), 0),
            )
        )
    ).one()
    return {"review_queue": int(queue or 0), "available": int(available), "held": int(held)}
