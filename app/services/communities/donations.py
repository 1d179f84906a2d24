"""Public-good projects and the donations citizens make to them, in whole units.

A donation, in one unit of work: the citizen's ledger accounts and the citizen's shard of the
project's account are locked (``ledger.donate``, the global order), which serialises one
citizen's donations and makes the ``Idempotency-Key`` lookup exact (the same key twice at
once: the second waits and answers the first donation); the points move through the one
posting path; the project's progress is taken by one conditional
``UPDATE … WHERE donated_units + units <= target_units``, the last write, so the target is
never overshot.

What a popular project costs: citizens donating at once lock different shards of its account
(one in ``PROJECT_SHARDS`` pairs meet on one), so none holds a project-wide lock while its
balance is read and its posting written. The project row itself is the one place where they
all meet, because the target is one number: each donation locks it only from that last
``UPDATE`` to its commit.

Donations move points, not reductions: no record's grams change and reduction reports do not
count them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import new_id, utcnow
from app.kit.errors import IdempotencyConflict, NotFound
from app.kit.pagination import Keyset
from app.models import Donation, Project
from app.security import Actor
from app.services import ledger
from app.services.admin import audit
from app.services.communities.errors import ProjectClosed, TargetReached
from app.services.rewards.codes import ALPHABET


def project_view(project: Project) -> dict[str, Any]:
    return {
        "id": project.id,
        "name": project.name,
        "description": project.description,
        "unit_name": project.unit_name,
        "points_per_unit": project.points_per_unit,
        "target_units": project.target_units,
        "donated_units": project.donated_units,
        "donated_points": project.donated_units * project.points_per_unit,
        "progress": round(project.donated_units / project.target_units, 4),
        "active": project.is_active,
        "created_at": project.created_at,
    }


async def create_project(session: AsyncSession, *, actor: Actor, data: dict[str, Any]) -> Project:
    project = Project(
        id=new_id(),
        name=data["name"],
        description=data["description"],
        unit_name=data["unit_name"],
        points_per_unit=data["points_per_unit"],
        target_units=data["target_units"],
        donated_units=0,
        is_active=True,
        created_at=utcnow(),
    )
    session.add(project)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="project.create",
        target_type="project",
        target_id=project.id,
        after={**project_view(project), "created_at": project.created_at.isoformat()},
    )
    return project


async def set_active(
    session: AsyncSession, *, actor: Actor, project_id: str, active: bool
) -> Project:
    """Open or close a project for donations; what was donated stays."""
    project = await session.get(Project, project_id, with_for_update=True)
    if project is None:
        raise NotFound(f"Project {project_id} does not exist.")
    before = project.is_active
    project.is_active = active
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="project.update",
        target_type="project",
        target_id=project.id,
        before={"active": before},
        after={"active": active},
    )
    return project


PROJECTS = Keyset((Project.created_at, Project.id))


async def list_projects(
    session: AsyncSession, limit: int, cursor: str | None
) -> tuple[list[Project], str | None]:
    return PROJECTS.page(
        (await session.scalars(PROJECTS.apply(select(Project), cursor, limit))).all(), limit
    )


def certificate_number(at: datetime) -> str:
    """``TH-YYYYMMDD-XXXXXXXX``: the day, then 8 symbols (about 39 bits) from ``secrets``."""
    tail = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return f"TH-{at:%Y%m%d}-{tail}"


def donation_view(donation: Donation, project: Project) -> dict[str, Any]:
    return {
        "id": donation.id,
        "certificate": donation.certificate,
        "project": {"id": project.id, "name": project.name, "unit_name": project.unit_name},
        "units": donation.units,
        "points": donation.points,
        "created_at": donation.created_at,
    }


@dataclass(frozen=True)
class Donated:
    donation: Donation
    project: Project
    created: bool


async def donate(
    session: AsyncSession, *, user_id: str, project_id: str, units: int, idempotency_key: str
) -> Donated:
    project = await session.get(Project, project_id)
    if project is None:
        raise NotFound(f"Project {project_id} does not exist.")
    await ledger.lock_user(session, user_id, ledger.project_account(project_id, user_id))
    earlier = await session.scalar(
        select(Donation).where(
            Donation.user_id == user_id, Donation.idempotency_key == idempotency_key
        )
    )
    if earlier is not None:
        if (earlier.project_id, earlier.units) != (project_id, units):
            raise IdempotencyConflict("This Idempotency-Key was already used for another donation.")
        await session.refresh(project)
        return Donated(earlier, project, created=False)
    if not project.is_active:
        raise ProjectClosed("This project does not take donations.")
    left = project.target_units - project.donated_units
    if units > left:
        raise TargetReached(
            f"Only {left} units are still needed for this project; donate at most that many.",
            units_left=left,
        )
    now = utcnow()
    donation_id = new_id()
    points = units * project.points_per_unit
    txn = await ledger.donate(
        session,
        user_id=user_id,
        project_id=project_id,
        points=points,
        ref=f"donation:{donation_id}",
        cause_id=donation_id,
    )
    donation = Donation(
        id=donation_id,
        user_id=user_id,
        project_id=project_id,
        units=units,
        points=points,
        idempotency_key=idempotency_key,
        certificate=certificate_number(now),
        transaction_id=txn.id,
        created_at=now,
    )
    session.add(donation)
    await session.flush()
    taken = await session.scalar(
        update(Project)
        .where(
            Project.id == project_id,
            Project.donated_units + units <= Project.target_units,
        )
        .values(donated_units=Project.donated_units + units)
        .returning(Project.donated_units)
    )
    if taken is None:  # another citizen's donation took the last units meanwhile
        raise TargetReached("This project reached its target.", units_left=0)
    await session.refresh(project)
    return Donated(donation, project, created=True)


NEWEST = Keyset((Donation.created_at, Donation.id))


async def list_donations(
    session: AsyncSession, user_id: str, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    query = select(Donation).where(Donation.user_id == user_id)
    rows, next_cursor = NEWEST.page(
        (await session.scalars(NEWEST.apply(query, cursor, limit))).all(), limit
    )
    projects = {
        p.id: p
        for p in await session.scalars(
            select(Project).where(Project.id.in_({d.project_id for d in rows}))
        )
    }
    return [donation_view(d, projects[d.project_id]) for d in rows], next_cursor
