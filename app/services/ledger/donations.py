"""Donations: points leave a citizen's available balance for a public-good project's account,
in one transaction, drawing the soonest-expiring unexpired lots (as a hold does).

A donation is final: nothing moves points back out of a project's account. A later clawback
of a credit the citizen spent on a donation books the shortfall to the citizen's debt account
(see ``credits.reverse``), so a project's account never goes down."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.models.ledger import TransactionKind
from app.services.ledger.accounts import (
    available_account,
    lock,
    project_account,
    user_accounts,
)
from app.services.ledger.credits import find
from app.services.ledger.errors import LedgerInvariantError
from app.services.ledger.lots import plan_draws, spendable_lots
from app.services.ledger.postings import Draft, Posted, post


async def donate(
    session: AsyncSession,
    *,
    user_id: str,
    project_id: str,
    points: int,
    ref: str,
    cause_id: str,
) -> Posted:
    """Move ``points`` from the citizen to the project. Raises InsufficientPoints when the
    unexpired lots hold too few. Locks the citizen's accounts, then the citizen's shard of the
    project's account (the global order); posting an existing ref again returns the first
    transaction."""
    if points <= 0:
        raise LedgerInvariantError(f"a donation needs points > 0, got {points} for {ref}")
    project = project_account(project_id, user_id)
    await lock(session, [*user_accounts(user_id), project])
    if (found := await find(session, ref)) is not None:
        return found
    lots = await spendable_lots(session, user_id, points, utcnow())
    [txn] = await post(
        session,
        [
            Draft(
                ref=ref,
                kind=TransactionKind.DONATION,
                cause_type="donation",
                cause_id=cause_id,
                user_id=user_id,
                legs=[(available_account(user_id), -points), (project, points)],
                draws=plan_draws(lots, points),
            )
        ],
    )
    return txn
