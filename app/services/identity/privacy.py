"""A citizen's rights over their data (PIPL): see it, correct it, take it away, erase it.

Erasure removes what identifies the person (email, display name, region, password, links,
tokens) and keeps the user row as a tombstone under its random id, which nothing outside
the service links to a person any more. Records and ledger entries keep pointing at that
pseudonymous id, so every balance, total, report and the ledger check reconcile as before.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import utcnow
from app.kit.errors import Forbidden
from app.kv import KV
from app.models import (
    LedgerEntry,
    LedgerTransaction,
    MemberCode,
    Membership,
    Organisation,
    Partner,
    Record,
    RefreshToken,
    User,
    UserLink,
)
from app.schemas.records import RecordDetailOut
from app.security import (
    TokenClaims,
    hash_password_async,
    password_problems,
    verify_password_async,
)
from app.services import ledger
from app.services.admin import audit
from app.services.communities import donations, organisations
from app.services.identity import tokens
from app.services.identity.errors import WeakPassword
from app.services.rewards import redemption_views

# Not an argon2 hash: no password verifies against it.
ERASED_PASSWORD = "!erased"


async def _check_password(user: User, password: str) -> None:
    if not await verify_password_async(password, user.password_hash):
        raise Forbidden("The password is not correct.", reason="invalid_credentials")


def update_profile(user: User, changes: dict[str, Any]) -> User:
    """Only the fields sent are changed; ``null`` clears one."""
    for name in ("display_name", "region"):
        if name in changes:
            setattr(user, name, changes[name])
    return user


async def change_password(
    session: AsyncSession,
    kv: KV,
    settings: Settings,
    user: User,
    claims: TokenClaims,
    current: str,
    new: str,
) -> None:
    await _check_password(user, current)
    problems = password_problems(new, user.email)
    if new == current:
        problems.append("must differ from the current password")
    if problems:
        raise WeakPassword(
            "Password " + "; ".join(problems) + ".",
            errors=[{"field": "new_password", "message": p} for p in problems],
        )
    user.password_hash = await hash_password_async(new)
    await tokens.revoke_other_sessions(session, kv, settings, claims)
    await session.flush()


async def erase(
    session: AsyncSession, kv: KV, settings: Settings, user: User, password: str
) -> None:
    await _check_password(user, password)
    now = utcnow()
    await tokens.revoke_all(session, kv, settings, user.id)
    await session.execute(delete(RefreshToken).where(RefreshToken.user_id == user.id))
    await session.execute(delete(UserLink).where(UserLink.user_id == user.id))
    await session.execute(delete(MemberCode).where(MemberCode.user_id == user.id))
    await organisations.leave_all(session, user.id)
    # The email must be free to register again, and unique: the pseudonymous id is both.
    user.email = f"erased:{user.id}"
    user.password_hash = ERASED_PASSWORD
    user.display_name = None
    user.region = None
    user.is_active = False
    user.deleted_at = now
    await session.flush()
    await audit.record(
        session,
        actor=user,
        action="user.erased",
        target_type="user",
        target_id=user.id,
        before=None,
        after={"deleted_at": now.isoformat()},
    )


async def export(session: AsyncSession, settings: Settings, user: User) -> dict[str, Any]:
    """Everything held about the citizen, in one document."""
    links = await session.execute(
        select(UserLink, Partner.name, Partner.key_id)
        .join(Partner, Partner.id == UserLink.partner_id)
        .where(UserLink.user_id == user.id)
        .order_by(UserLink.created_at)
    )
    record_rows = await session.scalars(
        select(Record).where(Record.user_id == user.id).order_by(Record.received_at, Record.id)
    )
    lines = await session.execute(
        select(LedgerEntry, LedgerTransaction)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerEntry.account_id.in_(ledger.user_accounts(user.id)))
        .order_by(LedgerEntry.seq)
    )
    redemption_items, _ = await redemption_views.list_for_citizen(
        session, settings.jwt_key, user.id, limit=1_000_000, cursor=None
    )
    memberships = await session.execute(
        select(Membership, Organisation.name)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(Membership.user_id == user.id)
        .order_by(Membership.joined_at)
    )
    donation_items, _ = await donations.list_donations(session, user.id, 1_000_000, None)
    return {
        "exported_at": utcnow(),
        "profile": {
            "id": user.id,
            "email": user.email,
            "role": user.role,
            "display_name": user.display_name,
            "region": user.region,
            "created_at": user.created_at,
        },
        "links": [
            {
                "id": link.id,
                "partner_key": key_id,
                "partner_name": name,
                "external_ref": link.external_ref,
                "status": link.status,
                "created_at": link.created_at,
            }
            for link, name, key_id in links.tuples()
        ],
        "records": [RecordDetailOut.model_validate(r).model_dump() for r in record_rows],
        "ledger_lines": [
            {
                "id": txn.id,
                "account": entry.account_id.rsplit(":", 1)[1],
                "kind": txn.kind,
                "points": entry.amount,
                "balance_after": entry.balance_after,
                "created_at": entry.created_at,
                "ref": txn.ref,
            }
            for entry, txn in lines.tuples()
        ],
        "redemptions": redemption_items,
        "organisations": [
            {
                "organisation_id": m.organisation_id,
                "name": name,
                "joined_at": m.joined_at,
                "left_at": m.left_at,
            }
            for m, name in memberships.tuples()
        ],
        "donations": donation_items,
    }
