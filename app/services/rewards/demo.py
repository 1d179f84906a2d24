"""``tanhui seed-demo``: a demo merchant with incentives and one user of every role.

For development only: the accounts have published passwords, so the seed refuses to run
with ``TANHUI_ENV=production``. Rerunning it finds what it made before and adds only what is
missing. Points are never minted here: the demo citizens get theirs from yesterday's demo
records, posted through the ordinary record path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import utcnow
from app.kit.errors import InvalidState
from app.models import Incentive, Merchant, User
from app.models.identity import Role
from app.schemas.records import RecordIn
from app.services.identity.users import create_user, get_by_email
from app.services.records import intake

MERCHANT_NAME = "绿色生活便利店 Green Life Store"
DEMO_PASSWORD = "Tanhui-Demo-2026!"


@dataclass(frozen=True)
class DemoUser:
    email: str
    role: str
    display_name: str
    region: str | None = None


USERS = (
    DemoUser("admin@demo.tanhui.cn", "admin", "Demo Admin"),
    DemoUser("auditor@demo.tanhui.cn", "auditor", "Demo Auditor"),
    DemoUser("till@demo.tanhui.cn", "merchant", "Green Life till"),
    DemoUser("li.wei@demo.tanhui.cn", "citizen", "Li Wei", "CN-SX"),
    DemoUser("chen.jing@demo.tanhui.cn", "citizen", "Chen Jing"),
)

INCENTIVES: tuple[dict[str, Any], ...] = (
    {
        "title": "Metro ride voucher",
        "description": "One single journey on the city metro.",
        "points_cost": 500,
        "stock": 100,
    },
    {
        "title": "Coffee",
        "description": "A cup of coffee at the counter; once per person.",
        "points_cost": 300,
        "per_user_limit": 1,
    },
    {
        "title": "Cinema ticket",
        "description": "One standard 2D screening.",
        "points_cost": 2000,
    },
)


async def _merchant(session: AsyncSession) -> tuple[Merchant, bool]:
    merchant = await session.scalar(
        select(Merchant).where(Merchant.name == MERCHANT_NAME).order_by(Merchant.created_at)
    )
    if merchant is not None:
        return merchant, False
    merchant = Merchant(name=MERCHANT_NAME, created_at=utcnow())
    session.add(merchant)
    await session.flush()
    return merchant, True


async def _incentives(session: AsyncSession, merchant_id: str) -> list[tuple[Incentive, bool]]:
    out = []
    for spec in INCENTIVES:
        found = await session.scalar(
            select(Incentive).where(
                Incentive.merchant_id == merchant_id, Incentive.title == spec["title"]
            )
        )
        if found is not None:
            out.append((found, False))
            continue
        incentive = Incentive(
            merchant_id=merchant_id,
            issued=0,
            paused=False,
            code_ttl_days=30,
            created_at=utcnow(),
            **spec,
        )
        session.add(incentive)
        await session.flush()
        out.append((incentive, True))
    return out


async def _user(session: AsyncSession, spec: DemoUser, merchant_id: str) -> tuple[User, bool]:
    found = await get_by_email(session, spec.email)
    if found is not None:
        return found, False
    user = await create_user(
        session,
        email=spec.email,
        password=DEMO_PASSWORD,
        role=spec.role,
        display_name=spec.display_name,
        region=spec.region,
        merchant_id=merchant_id if spec.role == Role.MERCHANT else None,
    )
    return user, True


async def seed_demo(session: AsyncSession, settings: Settings) -> str:
    """Create (or find) the demo data; returns a summary for the terminal."""
    if settings.env == "production":
        raise InvalidState(
            "seed-demo creates accounts with published passwords; "
            "run it only with TANHUI_ENV=development or test."
        )
    merchant, merchant_new = await _merchant(session)
    lines = [f"merchant  {merchant.name}  id={merchant.id}{'' if merchant_new else '  (exists)'}"]
    for incentive, new in await _incentives(session, merchant.id):
        stock = "unlimited" if incentive.stock is None else f"stock {incentive.stock}"
        limit = f", {incentive.per_user_limit} per person" if incentive.per_user_limit else ""
        lines.append(
            f"incentive {incentive.title}: {incentive.points_cost} points, {stock}{limit}"
            f"  id={incentive.id}{'' if new else '  (exists)'}"
        )
    for spec in USERS:
        user, new = await _user(session, spec, merchant.id)
        region = f" {user.region}" if user.region else ""
        lines.append(
            f"{user.role:<9} {user.email}  password {DEMO_PASSWORD}{region}"
            f"{'' if new else '  (exists)'}"
        )
        if user.role == Role.CITIZEN:
            points = await _yesterdays_trips(session, settings, user)
            lines.append(f"          {points} points from yesterday's demo records")
    return "\n".join(lines)


async def _yesterdays_trips(session: AsyncSession, settings: Settings, user: User) -> int:
    """A day of low-carbon travel, posted as ordinary records: points are never minted here.
    The ids carry the date, so a rerun on the same day replays instead of adding."""
    day = (utcnow().astimezone(settings.tz) - timedelta(days=1)).date()
    trips = [
        ("transit.metro", time(8, 30), {"distance_km": "12.4", "duration_min": 31}),
        ("walking", time(12, 30), {"steps": 6500}),
        ("cycling", time(18, 5), {"distance_km": "3.2", "duration_min": 14}),
    ]
    total = 0
    for n, (code, at, data) in enumerate(trips):
        item = RecordIn(
            client_event_id=f"demo-{day.isoformat()}-{n}",
            type=code,
            occurred_at=datetime.combine(day, at, settings.tz),
            data=data,
        )
        outcome = await intake.ingest(session, settings, None, user, item)
        total += outcome.record.points
    return total
