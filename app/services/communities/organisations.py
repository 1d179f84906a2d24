"""Organisations (communities, parks, campuses, institutions, enterprises) and their members.

Joining and leaving lock the citizen's ledger accounts first (``ledger.lock_user``), the lock
that record intake takes for the same citizen. That makes the limit of
``MAX_MEMBERSHIPS`` exact under any race (the count and the insert happen under the lock), and
it orders a membership change against the citizen's records: a record is counted for the
organisations whose membership period contains its ``occurred_at`` (see ``stats``), and no
record is being decided while a period opens or closes.

A retired organisation accepts no joins: the member count of a join is raised by an UPDATE
that only matches an organisation not retired, so a join racing the retirement either
commits before it or fails. Members may still leave; statistics and leaderboards keep it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import new_id, utcnow
from app.kit.errors import NotFound
from app.kit.pagination import Keyset
from app.models import Membership, Organisation
from app.security import Actor
from app.services import ledger
from app.services.admin import audit
from app.services.communities.errors import (
    AlreadyMember,
    MembershipLimitReached,
    OrganisationRetired,
)
from app.services.rewards.codes import ALPHABET

MAX_MEMBERSHIPS = 3
JOIN_CODE_LENGTH = 8  # 30^8 ≈ 6.6e11: not guessable by trying, short enough to read out
_CODE_ATTEMPTS = 5


def new_join_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(JOIN_CODE_LENGTH))


def normalise_join_code(raw: str) -> str:
    return "".join(raw.split()).replace("-", "").upper()


def view(org: Organisation, *, with_code: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": org.id,
        "name": org.name,
        "kind": org.kind,
        "region": org.region,
        "member_count": org.member_count,
        "active": org.retired_at is None,
        "created_at": org.created_at,
    }
    if with_code:
        out["join_code"] = org.join_code
        out["retired_at"] = org.retired_at
    return out


async def create(
    session: AsyncSession, *, actor: Actor, name: str, kind: str, region: str
) -> Organisation:
    """Register an organisation with a fresh join code (drawn again on the rare collision)."""
    for attempt in range(_CODE_ATTEMPTS):
        org = Organisation(
            id=new_id(),
            name=name,
            kind=kind,
            region=region,
            join_code=new_join_code(),
            member_count=0,
            created_at=utcnow(),
        )
        try:
            async with session.begin_nested():
                session.add(org)
                await session.flush()
        except IntegrityError:
            if attempt == _CODE_ATTEMPTS - 1:
                raise
            continue
        break
    await audit.record(
        session,
        actor=actor,
        action="organisation.create",
        target_type="organisation",
        target_id=org.id,
        after={"name": name, "kind": kind, "region": region},
    )
    return org


NEWEST = Keyset((Organisation.created_at, Organisation.id))


async def list_organisations(
    session: AsyncSession,
    *,
    kind: str | None,
    region: str | None,
    limit: int,
    cursor: str | None,
    include_retired: bool = False,
    active: bool | None = None,
) -> tuple[list[Organisation], str | None]:
    """Newest first. Citizens see organisations that accept members; administrators may ask
    for retired ones too (``include_retired``) or only one state (``active``)."""
    query = select(Organisation)
    if not include_retired or active is True:
        query = query.where(Organisation.retired_at.is_(None))
    elif active is False:
        query = query.where(Organisation.retired_at.is_not(None))
    if kind:
        query = query.where(Organisation.kind == kind)
    if region:
        query = query.where(Organisation.region == region)
    return NEWEST.page((await session.scalars(NEWEST.apply(query, cursor, limit))).all(), limit)


@dataclass(frozen=True)
class Joined:
    membership: Membership
    organisation: Organisation


def membership_view(joined: Joined) -> dict[str, Any]:
    return {
        "organisation": view(joined.organisation),
        "joined_at": joined.membership.joined_at,
    }


async def join(session: AsyncSession, *, user_id: str, join_code: str) -> Joined:
    """Open a membership period. At most ``MAX_MEMBERSHIPS`` open at once, exact under races."""
    org = await session.scalar(
        select(Organisation).where(Organisation.join_code == normalise_join_code(join_code))
    )
    if org is None:
        raise NotFound("No organisation has this join code.", reason="join_code_unknown")
    if org.retired_at is not None:
        raise OrganisationRetired("This organisation is retired and accepts no new members.")
    await ledger.lock_user(session, user_id)
    open_ids = list(
        await session.scalars(
            select(Membership.organisation_id).where(
                Membership.user_id == user_id, Membership.left_at.is_(None)
            )
        )
    )
    if org.id in open_ids:
        raise AlreadyMember("You are already a member of this organisation.")
    if len(open_ids) >= MAX_MEMBERSHIPS:
        raise MembershipLimitReached(
            f"A citizen can belong to at most {MAX_MEMBERSHIPS} organisations at a time; "
            "leave one before joining another.",
            limit=MAX_MEMBERSHIPS,
        )
    membership = Membership(
        id=new_id(), organisation_id=org.id, user_id=user_id, joined_at=utcnow(), left_at=None
    )
    session.add(membership)
    await session.flush()
    counted = await session.execute(
        update(Organisation)
        .where(Organisation.id == org.id, Organisation.retired_at.is_(None))
        .values(member_count=Organisation.member_count + 1)
    )
    if counted.rowcount == 0:  # type: ignore[attr-defined]
        # Retired since it was read: the exception rolls the membership back with the request.
        raise OrganisationRetired("This organisation is retired and accepts no new members.")
    await session.refresh(org)
    return Joined(membership, org)


async def leave(session: AsyncSession, *, user_id: str, organisation_id: str) -> None:
    """Close the citizen's open period: what they did while a member stays counted."""
    await ledger.lock_user(session, user_id)
    closed = await session.execute(
        update(Membership)
        .where(
            Membership.user_id == user_id,
            Membership.organisation_id == organisation_id,
            Membership.left_at.is_(None),
        )
        .values(left_at=utcnow())
    )
    if closed.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound("You are not a member of this organisation.")
    await _count_member(session, organisation_id, -1)


async def leave_all(session: AsyncSession, user_id: str) -> None:
    """Close every open membership of the citizen (their account is being erased)."""
    open_ids = list(
        await session.scalars(
            select(Membership.organisation_id).where(
                Membership.user_id == user_id, Membership.left_at.is_(None)
            )
        )
    )
    for organisation_id in sorted(open_ids):
        await leave(session, user_id=user_id, organisation_id=organisation_id)


async def _count_member(session: AsyncSession, organisation_id: str, delta: int) -> None:
    await session.execute(
        update(Organisation)
        .where(Organisation.id == organisation_id)
        .values(member_count=Organisation.member_count + delta)
    )


async def my_memberships(session: AsyncSession, user_id: str) -> list[Joined]:
    rows = await session.execute(
        select(Membership, Organisation)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(Membership.user_id == user_id, Membership.left_at.is_(None))
        .order_by(Membership.joined_at)
    )
    return [Joined(m, o) for m, o in rows]


async def is_member(session: AsyncSession, user_id: str, organisation_id: str) -> bool:
    found = await session.scalar(
        select(func.count()).where(
            Membership.user_id == user_id,
            Membership.organisation_id == organisation_id,
            Membership.left_at.is_(None),
        )
    )
    return bool(found)


async def get(session: AsyncSession, organisation_id: str) -> Organisation:
    org = await session.get(Organisation, organisation_id)
    if org is None:
        raise NotFound(f"Organisation {organisation_id} does not exist.")
    return org


async def update_organisation(
    session: AsyncSession,
    *,
    actor: Actor,
    organisation_id: str,
    name: str | None = None,
    active: bool | None = None,
) -> Organisation:
    """Rename, retire (``active=False``) or reinstate an organisation, audited with the values
    before and after. Retiring keeps memberships, statistics and the join code (it simply
    stops working); reinstating makes it work again."""
    org = await session.scalar(
        select(Organisation).where(Organisation.id == organisation_id).with_for_update()
    )
    if org is None:
        raise NotFound(f"Organisation {organisation_id} does not exist.")
    before = _audited(org)
    if name is not None:
        org.name = name
    if active is False and org.retired_at is None:
        org.retired_at = utcnow()
    elif active is True:
        org.retired_at = None
    await session.flush()
    await audit.record_change(
        session,
        actor=actor,
        action="organisation.update",
        target_type="organisation",
        target_id=org.id,
        before=before,
        after=_audited(org),
    )
    return org


def _audited(org: Organisation) -> dict[str, Any]:
    return {
        "name": org.name,
        "retired_at": org.retired_at.isoformat() if org.retired_at else None,
    }
