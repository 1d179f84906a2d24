"""``tanhui expire-points``: expire lots past their lifetime, release codes past theirs.

Each lot expires in its own short transaction under the citizen's lock, so the job runs
safely beside live traffic and can be stopped and rerun at any point: a lot already expired,
or emptied by a concurrent spend, is skipped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tqdm import tqdm

from app.config import Settings
from app.db import make_engine, make_sessionmaker, session_scope, utcnow
from app.kv import KV, make_kv
from app.services import ledger
from app.services.rewards import redemptions


async def run_expiry(
    settings: Settings, *, batch_size: int = 500, progress: bool = True
) -> dict[str, Any]:
    engine = make_engine(settings.database_url, pool_size=2)
    maker = make_sessionmaker(engine)
    # Codes given back bring units back: their incentives' sold-out markers are dropped.
    kv = make_kv(settings.redis_url, settings.redis_prefix, 2) if settings.redis_url else None
    now = utcnow()
    lots = points = codes = 0
    try:
        async with session_scope(maker) as session:
            total = await ledger.count_due_lots(session, now)
        bar = tqdm(total=total, unit="lot", desc="expiring points", disable=not progress)
        after = None
        while True:
            async with session_scope(maker) as session:
                batch = await ledger.due_lots(session, now, batch_size, after)
            if not batch:
                break
            for lot_id, _ in batch:
                async with session_scope(maker) as session:
                    expired = await ledger.expire_lot(session, lot_id, now)
                lots += 1 if expired else 0
                points += expired
                bar.update(1)
            after = batch[-1][1], batch[-1][0]
        bar.close()
        codes = await _expire_codes(maker, now, batch_size, kv)
    finally:
        if kv is not None:
            await kv.close()
        await engine.dispose()
    return {
        "lots_expired": lots,
        "points_expired": points,
        "codes_expired": codes,
        "as_of": now.isoformat(),
    }


async def _expire_codes(maker: Any, now: datetime, batch_size: int, kv: KV | None) -> int:
    """Batches until one finds nothing: a batch may expire fewer than it could when a till
    verifies or a citizen cancels a code at the same moment."""
    total = 0
    while True:
        async with session_scope(maker) as session:
            done = await redemptions.expire_codes(session, now, batch_size, kv)
        total += done
        if done == 0:
            return total
