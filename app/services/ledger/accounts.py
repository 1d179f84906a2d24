"""Account ids and the locks every posting takes.

Account ids are deterministic strings, so a posting needs no lookup to name its accounts and
locks can be taken in id order:

- ``user:<id>:available``, ``user:<id>:held``, ``user:<id>:debt``: one citizen's accounts;
- ``merchant:<id>``: settled redemptions;
- ``project:<id>:NN``: points donated to a public-good project, split into
  ``PROJECT_SHARDS`` shards by citizen so that citizens donating to one popular project at
  once seldom wait for the same row (a project's balance is the sum of its shards; an
  unsharded ``project:<id>`` from before the split counts with them);
- ``platform:<kind>:NNN`` (issuance, expired, reversals): split into shards by citizen so
  that no single row is locked by every credit.

Lock order, the same for every unit of work: the citizens' accounts first, then platform and
merchant accounts, each group sorted by id, in one ``SELECT … FOR UPDATE … ORDER BY`` over
every account not yet locked (PostgreSQL locks the rows in the ORDER BY order). A unit of work
may lock more later (a batch locks its citizens up front and the issuance shards at its end),
but only accounts that sort after the citizens' ones, so concurrent postings neither lose
updates nor deadlock. Locked accounts, with their balances, are remembered for the rest of
the database transaction and forgotten when a savepoint rolls back (that releases the locks
taken inside it) or the transaction ends. On SQLite every transaction is already serial
(``BEGIN IMMEDIATE``).

A citizen's account locks also guard what belongs to that citizen alone: their lots, lot
draws, holds and summary row.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, case, event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from app.db import insert_ignore, utcnow
from app.kit import bulk
from app.kit.statements import any_of, per_dialect
from app.models import Account

PLATFORM_SHARDS = 256
PROJECT_SHARDS = 16


def table(model: Any) -> Table:
    """A model's table, for Core statements (no ORM unit of work on the posting path)."""
    return cast(Table, model.__table__)


ACCOUNTS = table(Account)


def available_account(user_id: str) -> str:
    return f"user:{user_id}:available"


def held_account(user_id: str) -> str:
    return f"user:{user_id}:held"


def debt_account(user_id: str) -> str:
    return f"user:{user_id}:debt"


def merchant_account(merchant_id: str) -> str:
    return f"merchant:{merchant_id}"


def project_account(project_id: str, user_id: str) -> str:
    """The shard of the project's account that this citizen's donations go to: always the
    same one for one citizen, so the citizen's lock already orders their donations."""
    shard = zlib.crc32(user_id.encode()) % PROJECT_SHARDS
    return f"project:{project_id}:{shard:02d}"


def platform_account(kind: str, user_id: str) -> str:
    """Issuance, expired and reversals are sharded by citizen to keep them off the hot path."""
    shard = zlib.crc32(user_id.encode()) % PLATFORM_SHARDS
    return f"platform:{kind}:{shard:03d}"


def platform_shards(kind: str) -> list[str]:
    """Every shard of a platform account."""
    return [f"platform:{kind}:{shard:03d}" for shard in range(PLATFORM_SHARDS)]


def user_accounts(user_id: str) -> list[str]:
    return [available_account(user_id), held_account(user_id), debt_account(user_id)]


def kind_and_owner(account_id: str) -> tuple[str, str | None]:
    parts = account_id.split(":")
    if parts[0] == "user":
        return parts[2], parts[1]
    if parts[0] in ("merchant", "project"):
        return parts[0], parts[1]
    return parts[1], None


@dataclass
class Locked:
    """A locked account and its balance as this transaction has left it."""

    id: str
    kind: str
    balance: int

    @property
    def owner(self) -> str | None:
        return kind_and_owner(self.id)[1]


_LOCKED = "ledger.locked"


def locked(session: AsyncSession) -> dict[str, Locked]:
    """Accounts this database transaction has locked, with their current balances."""
    held: dict[str, Locked] = session.info.setdefault(_LOCKED, {})
    return held


@event.listens_for(Session, "after_soft_rollback")
def _forget_locks_after_rollback(session: Session, _previous: Any) -> None:
    # Rolling back to a savepoint releases the row locks taken inside it: lock again.
    session.info.pop(_LOCKED, None)


@event.listens_for(Session, "after_commit")
def _forget_locks_after_commit(session: Session) -> None:
    session.info.pop(_LOCKED, None)


@per_dialect
def _select_for_update(dialect: str) -> Select[Any]:
    c = ACCOUNTS.c
    return (
        select(c.id, c.kind, c.balance)
        .where(any_of(dialect, c.id, "ids"))
        .order_by(case((c.id.like("user:%"), 0), else_=1), c.id)
        .with_for_update()
    )


async def lock(session: AsyncSession, account_ids: Iterable[str]) -> dict[str, Locked]:
    """Lock the accounts (creating missing ones) in the global order, once per transaction."""
    held = locked(session)
    wanted = sorted(set(account_ids))
    missing = [account_id for account_id in wanted if account_id not in held]
    if missing:
        await bulk.flush(session)  # balances read here must include writes still waiting
        rows = (await session.execute(_select_for_update(session), {"ids": missing})).all()
        held.update((r.id, Locked(r.id, r.kind, int(r.balance))) for r in rows)
        absent = [account_id for account_id in missing if account_id not in held]
        if absent:
            await _create(session, absent)
    return {account_id: held[account_id] for account_id in wanted}


async def _create(session: AsyncSession, absent: list[str]) -> None:
    """Insert missing accounts. Rows this statement inserts come back already locked; a row
    that a concurrent transaction inserted first does not, and is locked by a second read."""
    held = locked(session)
    now = utcnow()
    rows = []
    for account_id in absent:
        kind, owner = kind_and_owner(account_id)
        rows.append(
            {"id": account_id, "kind": kind, "owner_id": owner, "balance": 0, "created_at": now}
        )
    c = ACCOUNTS.c
    created = await session.execute(
        insert_ignore(session, Account, rows).returning(c.id, c.kind, c.balance)
    )
    held.update((r.id, Locked(r.id, r.kind, int(r.balance))) for r in created)
    raced = [account_id for account_id in absent if account_id not in held]
    if raced:
        rows2 = (await session.execute(_select_for_update(session), {"ids": raced})).all()
        held.update((r.id, Locked(r.id, r.kind, int(r.balance))) for r in rows2)


async def open_accounts(conn: AsyncConnection, account_ids: Iterable[str]) -> None:
    """Create the accounts that do not exist yet, outside any unit of work that locks (on an
    autocommit connection): a unit that then finds them all takes its locks with one
    ``SELECT … FOR UPDATE`` and never waits on another unit's uncommitted insert, whose
    locks it cannot order. Accounts are never deleted."""
    now = utcnow()
    rows = []
    for account_id in sorted(set(account_ids)):
        kind, owner = kind_and_owner(account_id)
        rows.append(
            {"id": account_id, "kind": kind, "owner_id": owner, "balance": 0, "created_at": now}
        )
    if rows:
        dialect = conn.dialect.name
        stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(ACCOUNTS)
        await conn.execute(stmt.on_conflict_do_nothing(), rows)


async def lock_user(session: AsyncSession, user_id: str, *also: str) -> None:
    """Lock one citizen's accounts: serialises that citizen's ledger-affecting work. ``also``:
    accounts the same unit of work will post to (a merchant's, when a code settles), locked
    in the same statement, in the global order."""
    await lock(session, [*user_accounts(user_id), *also])


async def lock_users(session: AsyncSession, user_ids: Iterable[str], *also: str) -> None:
    """Lock several citizens' accounts in one statement (a batch of records); ``also``:
    accounts the same unit of work will post to (the issuance shard of its credits), locked
    in the same statement, in the global order."""
    await lock(
        session, [*(account for user_id in user_ids for account in user_accounts(user_id)), *also]
    )
