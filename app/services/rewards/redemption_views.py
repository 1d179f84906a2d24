"""Redemptions as their owner and their merchant see them, and the lists of both.

A redemption just made carries its incentive's title and merchant's name (``issued_view``),
and the till leaves the title in ``session.info`` under ``TILL_TITLES``, so the view of a
redemption just made or fulfilled needs no other read.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.kit.pagination import Keyset
from app.models import Incentive, Merchant, Redemption
from app.models.rewards import RedemptionStatus
from app.services.rewards import codes

STATUSES = (
    RedemptionStatus.ISSUED,
    RedemptionStatus.FULFILLED,
    RedemptionStatus.CANCELLED,
    RedemptionStatus.EXPIRED,
)
TILL_TITLES = "redemptions.till_titles"


def _shown_code(secret: str, redemption: Redemption) -> str | None:
    """The code as XXXX-XXXX-XXXX; None only if the server secret changed since issue."""
    code = codes.decrypt_code(secret, redemption.code_encrypted, redemption.id)
    return codes.display(code) if code is not None else None


def _citizen_view(secret: str, redemption: Redemption, title: str, merchant: str) -> dict[str, Any]:
    usable = redemption.status == RedemptionStatus.ISSUED and redemption.expires_at > utcnow()
    return {
        "id": redemption.id,
        "code": _shown_code(secret, redemption) if usable else None,
        "code_hint": redemption.code_hint,
        "status": redemption.status,
        "points": redemption.points,
        "incentive_id": redemption.incentive_id,
        "incentive_title": title,
        "merchant_id": redemption.merchant_id,
        "merchant_name": merchant,
        "expires_at": redemption.expires_at,
        "created_at": redemption.created_at,
        "resolved_at": redemption.resolved_at,
    }


def issued_view(secret: str, issued: Any) -> dict[str, Any]:
    """``POST /v1/redemptions``'s answer (a ``redemptions.Issued``): the code shown whatever
    the status, so that a replay answers exactly as the first time did."""
    redemption = issued.redemption
    view = _citizen_view(secret, redemption, issued.incentive_title, issued.merchant_name)
    view["code"] = _shown_code(secret, redemption)
    return view


async def citizen_view(
    session: AsyncSession, secret: str, redemption: Redemption
) -> dict[str, Any]:
    """One redemption as its owner sees it."""
    title, merchant = (
        await session.execute(
            select(Incentive.title, Merchant.name)
            .join(Merchant, Merchant.id == Incentive.merchant_id)
            .where(Incentive.id == redemption.incentive_id)
        )
    ).one()
    return _citizen_view(secret, redemption, title, merchant)


NEWEST = Keyset((Redemption.created_at, Redemption.id))


async def list_for_citizen(
    session: AsyncSession, secret: str, user_id: str, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    query = (
        select(Redemption, Incentive.title, Merchant.name)
        .join(Incentive, Incentive.id == Redemption.incentive_id)
        .join(Merchant, Merchant.id == Redemption.merchant_id)
        .where(Redemption.user_id == user_id)
    )
    rows, next_cursor = NEWEST.page(
        (await session.execute(NEWEST.apply(query, cursor, limit))).all(), limit, lambda r: r[0]
    )
    return [_citizen_view(secret, r, title, name) for r, title, name in rows], next_cursor


def _merchant_view(redemption: Redemption, title: str) -> dict[str, Any]:
    return {
        "id": redemption.id,
        "code_hint": redemption.code_hint,
        "status": redemption.status,
        "points": redemption.points,
        "incentive_id": redemption.incentive_id,
        "incentive_title": title,
        "expires_at": redemption.expires_at,
        "created_at": redemption.created_at,
        "resolved_at": redemption.resolved_at,
        "resolved_by": redemption.resolved_by,
    }


async def merchant_view(session: AsyncSession, redemption: Redemption) -> dict[str, Any]:
    """One redemption as its merchant sees it (never the code)."""
    title = session.info.get(TILL_TITLES, {}).get(redemption.incentive_id)
    if title is None:
        title = await session.scalar(
            select(Incentive.title).where(Incentive.id == redemption.incentive_id)
        )
    return _merchant_view(redemption, title or "")


async def list_for_merchant(
    session: AsyncSession, merchant_id: str, status: str | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    query = (
        select(Redemption, Incentive.title)
        .join(Incentive, Incentive.id == Redemption.incentive_id)
        .where(Redemption.merchant_id == merchant_id)
    )
    if status is not None:
        query = query.where(Redemption.status == status)
    rows, next_cursor = NEWEST.page(
        (await session.execute(NEWEST.apply(query, cursor, limit))).all(), limit, lambda r: r[0]
    )
    return [_merchant_view(r, title) for r, title in rows], next_cursor


async def merchant_totals(session: AsyncSession, merchant_id: str) -> dict[str, int]:
    """Counts by status and the points settled to the merchant (for settlement)."""
    totals = {status: 0 for status in STATUSES} | {"points_settled": 0}
    rows = await session.execute(
        select(Redemption.status, func.count(), func.coalesce(func.sum(Redemption.points), 0))
        .where(Redemption.merchant_id == merchant_id)
        .group_by(Redemption.status)
    )
    for status, count, points in rows:
        totals[status] = int(count)
        if status == RedemptionStatus.FULFILLED:
            totals["points_settled"] = int(points)
    return totals
