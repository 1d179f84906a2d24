"""Checkpoints: Merkle roots over ranges of sealed transactions, chained, cut after the fact.

The posting path only seals each transaction with its own hash; ``cut`` (``tanhui
checkpoint``, also run after ``tanhui expire-points``) later takes the transactions after the
last checkpoint, in ``seq`` order, up to a **safe horizon**, and stores their root.

The horizon matters on PostgreSQL: ``seq`` comes from a sequence when a row is inserted, not
when it commits, so a transaction holding seq 10 may commit after one holding seq 11. Sealing
11 before 10 is visible would leave 10 outside every checkpoint, or inside one whose root
does not cover it. So the horizon is the last seq handed out at some instant, and ``cut``
first waits until every transaction of this database that was writing at that instant has
ended: after that no row at or below the horizon can still appear. (Posting locks its
accounts before inserting, so a transaction is a writer before it takes a seq.) Writers
never wait for the checkpointer. SQLite writes one
transaction at a time: every seq is final once visible.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.kit.pagination import Keyset
from app.models import LedgerCheckpoint, LedgerEntry, LedgerTransaction
from app.services.ledger import proofs
from app.services.ledger.accounts import table
from app.services.ledger.postings import HASHED_COLUMNS

MAX_ROWS = 10_000  # transactions per checkpoint: what an auditor re-hashes to check one
SETTLE_TIMEOUT_S = 30.0

TXNS = table(LedgerTransaction).c
ENTRIES = table(LedgerEntry).c
CHECKPOINTS = table(LedgerCheckpoint)


@dataclass(frozen=True)
class Checkpoint:
    seq_from: int
    seq_to: int
    count: int
    merkle_root: str
    prev_root: str | None
    root: str
    created_at: datetime

    def view(self) -> dict[str, Any]:
        return {
            "seq_from": self.seq_from,
            "seq_to": self.seq_to,
            "count": self.count,
            "merkle_root": self.merkle_root,
            "prev_root": self.prev_root,
            "root": self.root,
            "created_at": self.created_at,
        }


_COLUMNS = (
    CHECKPOINTS.c.seq_from,
    CHECKPOINTS.c.seq_to,
    CHECKPOINTS.c.count,
    CHECKPOINTS.c.merkle_root,
    CHECKPOINTS.c.prev_root,
    CHECKPOINTS.c.root,
    CHECKPOINTS.c.created_at,
)


async def listing(
    session: AsyncSession, after_seq: int | None = None, limit: int | None = None
) -> list[Checkpoint]:
    """Checkpoints in seq order, those starting after ``after_seq``."""
    query = select(*_COLUMNS).order_by(CHECKPOINTS.c.seq_from)
    if after_seq is not None:
        query = query.where(CHECKPOINTS.c.seq_from > after_seq)
    if limit is not None:
        query = query.limit(limit)
    return [Checkpoint(*row) for row in await session.execute(query)]


async def last(session: AsyncSession) -> Checkpoint | None:
    row = (
        await session.execute(select(*_COLUMNS).order_by(CHECKPOINTS.c.seq_from.desc()).limit(1))
    ).first()
    return None if row is None else Checkpoint(*row)


async def safe_horizon(session: AsyncSession, timeout_s: float = SETTLE_TIMEOUT_S) -> int:
    """The highest seq below which no transaction can still appear (see the module text)."""
    if session.get_bind().dialect.name != "postgresql":
        return int(await session.scalar(select(func.coalesce(func.max(TXNS.seq), 0))) or 0)
    horizon = int(
        await session.scalar(
            text(
                "SELECT CASE WHEN is_called THEN last_value ELSE 0 END "
                "FROM ledger_transactions_seq_seq"
            )
        )
        or 0
    )
    # The transactions of this database writing now (activity is read after the sequence, so
    # any that took a seq up to the horizon is among them or already ended).
    writing = {
        (int(r[0]), str(r[1]))
        for r in await session.execute(
            text(
                "SELECT pid, backend_xid::text FROM pg_stat_activity "
                "WHERE datname = current_database() AND backend_xid IS NOT NULL "
                "AND pid <> pg_backend_pid()"
            )
        )
    }
    deadline = time.monotonic() + timeout_s
    while writing:
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{len(writing)} transactions that were writing at the horizon (seq {horizon}) "
                f"are still open after {timeout_s:.0f} s"
            )
        await asyncio.sleep(0.05)
        await session.execute(text("SELECT pg_stat_clear_snapshot()"))
        still = {
            (int(r[0]), str(r[1]))
            for r in await session.execute(
                text(
                    "SELECT pid, backend_xid::text FROM pg_stat_activity "
                    "WHERE datname = current_database() AND backend_xid IS NOT NULL"
                )
            )
        }
        writing &= still
    return horizon


async def leaves(session: AsyncSession, seq_from: int, seq_to: int, limit: int) -> list[Any]:
    """(seq, hash) of the transactions in [seq_from, seq_to], at most ``limit``; a transaction
    posted before hashing existed gets its hash computed from its content here."""
    rows = list(
        await session.execute(
            select(TXNS.seq, TXNS.hash, TXNS.id)
            .where(TXNS.seq >= seq_from, TXNS.seq <= seq_to)
            .order_by(TXNS.seq)
            .limit(limit)
        )
    )
    unsealed = [r.id for r in rows if r.hash is None]
    computed = await hashes_of(session, unsealed) if unsealed else {}
    return [(r.seq, r.hash or computed[r.id]) for r in rows]


async def hashes_of(session: AsyncSession, ids: list[str]) -> dict[str, str]:
    """Transaction hashes computed from the stored content of the given transactions."""
    out: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        txns = {
            r.id: r
            for r in await session.execute(select(*HASHED_COLUMNS).where(TXNS.id.in_(chunk)))
        }
        entries: dict[str, list[tuple[str, int, int]]] = {i: [] for i in chunk}
        for e in await session.execute(
            select(
                ENTRIES.transaction_id, ENTRIES.account_id, ENTRIES.amount, ENTRIES.balance_after
            ).where(ENTRIES.transaction_id.in_(chunk))
        ):
            entries[e.transaction_id].append((e.account_id, e.amount, e.balance_after))
        for txn_id, t in txns.items():
            out[txn_id] = proofs.transaction_hash(
                id=t.id,
                ref=t.ref,
                kind=t.kind,
                cause_type=t.cause_type,
                cause_id=t.cause_id,
                user_id=t.user_id,
                memo=t.memo,
                created_at=t.created_at,
                decision_hash=t.decision_hash,
                entries=entries[txn_id],
            )
    return out


async def cut(
    session: AsyncSession, *, max_rows: int = MAX_ROWS, timeout_s: float = SETTLE_TIMEOUT_S
) -> list[Checkpoint]:
    """Checkpoint every transaction after the last checkpoint up to the safe horizon, at most
    ``max_rows`` per checkpoint. Two checkpointers at once: the second finds the range taken
    (the primary key on ``seq_from``) and cuts nothing. Flushes; the caller commits."""
    horizon = await safe_horizon(session, timeout_s)
    made: list[Checkpoint] = []
    previous = await last(session)
    while True:
        start = 1 if previous is None else previous.seq_to + 1
        if start > horizon:
            return made
        rows = await leaves(session, start, horizon, max_rows)
        if not rows:
            return made
        end = horizon if len(rows) < max_rows else rows[-1][0]
        merkle = proofs.merkle_root([h for _, h in rows])
        prev_root = previous.root if previous else None
        checkpoint = Checkpoint(
            seq_from=start,
            seq_to=end,
            count=len(rows),
            merkle_root=merkle,
            prev_root=prev_root,
            root=proofs.checkpoint_root(prev_root, start, end, len(rows), merkle),
            created_at=utcnow(),
        )
        try:
            async with session.begin_nested():
                await session.execute(insert(CHECKPOINTS).values(**checkpoint.view()))
        except IntegrityError:
            return made
        made.append(checkpoint)
        previous = checkpoint


OLDEST = Keyset((LedgerCheckpoint.seq_from,), descending=False)


async def page(
    session: AsyncSession, limit: int, cursor: str | None
) -> tuple[list[LedgerCheckpoint], str | None]:
    """Checkpoints oldest first, keyset-paged on ``seq_from``."""
    rows = (await session.scalars(OLDEST.apply(select(LedgerCheckpoint), cursor, limit))).all()
    return OLDEST.page(rows, limit)
