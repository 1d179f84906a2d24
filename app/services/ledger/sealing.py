"""Sealing the transactions posted before hashing existed (``tanhui seal-ledger``).

Each one gets the hash the posting path would have given it: ``proofs.transaction_hash``
over its stored content (through ``checkpoints.hashes_of``, which checkpoints and exports use
for the same rows). Chunks of ``CHUNK`` transactions in ``seq`` order, one commit each, so
memory stays flat and the work can be stopped and resumed; a row is written only while its
hash is NULL, so running it twice, or two at once, seals each row once. On PostgreSQL the
append-only trigger allows exactly this change (migration 0007) and no other. Their record
decisions stay unsealed (``decision_hash`` NULL): the decision a credit was posted under
is not known after the fact.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import session_scope
from app.models import LedgerTransaction
from app.services.ledger.accounts import table
from app.services.ledger.checkpoints import hashes_of

CHUNK = 1000
TXNS = table(LedgerTransaction)


async def unsealed(session: AsyncSession) -> int:
    return int(
        await session.scalar(select(func.count()).select_from(TXNS).where(TXNS.c.hash.is_(None)))
        or 0
    )


async def seal(
    maker: async_sessionmaker[AsyncSession],
    *,
    chunk: int = CHUNK,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Seal every transaction that has no hash; the number sealed."""
    sealed = 0
    after = 0
    while True:
        async with session_scope(maker) as session:
            rows = (
                await session.execute(
                    select(TXNS.c.seq, TXNS.c.id)
                    .where(TXNS.c.hash.is_(None), TXNS.c.seq > after)
                    .order_by(TXNS.c.seq)
                    .limit(chunk)
                )
            ).all()
            if not rows:
                return sealed
            hashes = await hashes_of(session, [r.id for r in rows])
            await session.execute(
                update(TXNS)
                .where(TXNS.c.id == bindparam("txn_id"), TXNS.c.hash.is_(None))
                .values(hash=bindparam("txn_hash")),
                [{"txn_id": i, "txn_hash": h} for i, h in hashes.items()],
            )
            after = rows[-1].seq
        sealed += len(rows)
        if on_progress:
            on_progress(len(rows))
