"""Citizens' links to partners, and which citizen a partner's ``user_ref`` means.

Nobody may be credited with another person's behaviour, so:

- a ``user_ref`` that has the form of a user id always means that user, whatever links say,
  and a link can never be made for such a reference;
- a link of a partner with ``link_confirmation = "partner"`` is ``pending`` until the
  partner confirms the one-time code that the citizen gave it (the partner knows who holds
  the card; we do not), and only ``active`` links resolve;
- a reference is active for at most one citizen (a partial unique index backs this against
  concurrent confirmations), while several citizens may claim it pending, so nobody can
  block the owner of a card by claiming it first;
- references are normalised the same way when stored and when looked up.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import utcnow
from app.kit.errors import Conflict, NotFound, ValidationFailed
from app.models import Partner, User, UserLink
from app.models.identity import Role
from app.models.partners import LinkConfirmation, LinkStatus
from app.services.rewards.codes import ALPHABET

MAX_LINKS_PER_PARTNER = 3
CODE_LIFETIME = timedelta(minutes=10)
CODE_LENGTH = 8  # about 39 bits for 10 minutes, typed by the citizen at the partner's desk


def as_user_id(ref: str) -> str | None:
    """The user id that ``ref`` spells (any case, braces, ``urn:uuid:``, with or without
    dashes), or None. Links and lookups use this one rule, so no spelling slips between."""
    try:
        return str(uuid.UUID(ref.strip()))
    except ValueError:
        return None


def normalise(partner: Partner, ref: str) -> str:
    ref = ref.strip()
    return ref if partner.refs_case_sensitive else ref.lower()


def _code_hash(settings: Settings, partner_id: str, code: str) -> str:
    label = f"link-code:{partner_id}:{code}".encode()
    return hmac.new(settings.jwt_key.encode(), label, hashlib.sha256).hexdigest()


def _normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch not in " -")


def _alive(now: datetime) -> ColumnElement[bool]:
    """Links that count: active ones and pending ones whose code has not expired."""
    return or_(UserLink.status == LinkStatus.ACTIVE, UserLink.confirmation_expires_at > now)


@dataclass(frozen=True)
class Linked:
    link: UserLink
    partner: Partner
    created: bool
    code: str | None = None  # shown once, to the citizen, when a code was issued


async def link(
    session: AsyncSession, settings: Settings, user_id: str, partner_key: str, external_ref: str
) -> Linked:
    if as_user_id(external_ref) is not None:
        raise ValidationFailed(
            "A reference that has the form of a user id cannot be linked.",
            reason="ref_is_user_id",
            errors=[{"field": "body.external_ref", "message": "has the form of a user id"}],
        )
    partner = await session.scalar(select(Partner).where(Partner.key_id == partner_key))
    if partner is None or not partner.is_active:
        raise NotFound(f"No partner with key {partner_key!r}.")
    ref = normalise(partner, external_ref)
    if not ref:
        raise ValidationFailed(
            "The reference is blank.",
            errors=[{"field": "body.external_ref", "message": "blank"}],
        )
    now = utcnow()
    await session.execute(
        delete(UserLink).where(
            UserLink.user_id == user_id,
            UserLink.partner_id == partner.id,
            UserLink.status == LinkStatus.PENDING,
            UserLink.confirmation_expires_at <= now,
        )
    )
    mine = (
        await session.scalars(
            select(UserLink).where(UserLink.user_id == user_id, UserLink.partner_id == partner.id)
        )
    ).all()
    same = next((row for row in mine if row.external_ref == ref), None)
    if same is not None and same.status == LinkStatus.ACTIVE:
        return Linked(same, partner, created=False)
    holder = await session.scalar(
        select(UserLink.user_id).where(
            UserLink.partner_id == partner.id,
            UserLink.external_ref == ref,
            UserLink.status == LinkStatus.ACTIVE,
        )
    )
    if holder is not None:
        raise Conflict("That reference is linked to another account.", reason="ref_taken")
    if same is None and len(mine) >= MAX_LINKS_PER_PARTNER:
        raise Conflict(
            f"At most {MAX_LINKS_PER_PARTNER} links per partner; remove one first.",
            reason="link_limit",
            limit=MAX_LINKS_PER_PARTNER,
        )
    row = same or UserLink(user_id=user_id, partner_id=partner.id, external_ref=ref)
    code = None
    if partner.link_confirmation == LinkConfirmation.NONE:
        row.status, row.confirmed_at = LinkStatus.ACTIVE, now
        row.confirmation_hash = row.confirmation_expires_at = None
    else:
        # A new request for the same reference replaces the code: only the latest one works.
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        row.status = LinkStatus.PENDING
        row.confirmation_hash = _code_hash(settings, partner.id, code)
        row.confirmation_expires_at = now + CODE_LIFETIME
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        raise Conflict(
            "That reference was linked to another account a moment ago.", reason="ref_taken"
        ) from None
    return Linked(row, partner, created=True, code=code)


async def confirm(
    session: AsyncSession, settings: Settings, partner: Partner, external_ref: str, code: str
) -> UserLink:
    """The partner vouches that the citizen who gave it ``code`` holds ``external_ref``."""
    if as_user_id(external_ref) is not None:
        raise ValidationFailed(
            "A reference that has the form of a user id cannot be linked.",
            reason="ref_is_user_id",
            errors=[{"field": "body.external_ref", "message": "has the form of a user id"}],
        )
    ref = normalise(partner, external_ref)
    digest = _code_hash(settings, partner.id, _normalise_code(code))
    row = await session.scalar(
        select(UserLink)
        .where(
            UserLink.partner_id == partner.id,
            UserLink.external_ref == ref,
            UserLink.status == LinkStatus.PENDING,
            UserLink.confirmation_hash == digest,
        )
        .with_for_update()
    )
    if row is None:
        raise Conflict("No pending link for that reference and code.", reason="code_invalid")
    now = utcnow()
    if row.confirmation_expires_at is None or row.confirmation_expires_at <= now:
        raise Conflict("The confirmation code has expired.", reason="code_expired")
    row.status, row.confirmed_at = LinkStatus.ACTIVE, now
    row.confirmation_hash = row.confirmation_expires_at = None
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("That reference is linked to another account.", reason="ref_taken") from None
    return row


async def unlink(session: AsyncSession, user_id: str, link_id: str) -> None:
    result = await session.execute(
        delete(UserLink).where(UserLink.id == link_id, UserLink.user_id == user_id)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFound(f"Link {link_id} does not exist.")


async def links_of(session: AsyncSession, user_id: str) -> list[tuple[UserLink, Partner]]:
    """The citizen's active links and unexpired pending ones."""
    rows = await session.execute(
        select(UserLink, Partner)
        .join(Partner, Partner.id == UserLink.partner_id)
        .where(UserLink.user_id == user_id, _alive(utcnow()))
        .order_by(UserLink.created_at, UserLink.id)
    )
    return [(link_row, partner) for link_row, partner in rows.tuples()]


async def resolve_users(
    session: AsyncSession, partner: Partner, refs: list[str]
) -> dict[str, User]:
    """user_ref (as sent) → the active citizen it means: the user with that id when it has
    the form of one, else the citizen holding an active link of this partner."""
    by_id = {ref: uid for ref in set(refs) if (uid := as_user_id(ref)) is not None}
    by_link = {ref: normalise(partner, ref) for ref in set(refs) if ref not in by_id}
    users: dict[str, User] = {}
    if by_id:
        found = await session.scalars(select(User).where(User.id.in_(sorted(set(by_id.values())))))
        users = {user.id: user for user in found}
    linked: dict[str, User] = {}
    wanted = sorted({ref for ref in by_link.values() if ref})
    if wanted:
        rows = await session.execute(
            select(UserLink.external_ref, User)
            .join(User, User.id == UserLink.user_id)
            .where(
                and_(
                    UserLink.partner_id == partner.id,
                    UserLink.status == LinkStatus.ACTIVE,
                    UserLink.external_ref.in_(wanted),
                )
            )
        )
        linked = {ref: user for ref, user in rows.tuples()}
    out: dict[str, User] = {}
    for ref, uid in by_id.items():
        if uid in users:
            out[ref] = users[uid]
    for ref, norm in by_link.items():
        if norm in linked:
            out[ref] = linked[norm]
    return {ref: user for ref, user in out.items() if user.role == Role.CITIZEN and user.is_active}
