"""Facts a methodology needs that its record does not carry, looked up by the record path
before the (pure) methodology runs: a labelled purchase names a product, and the product's
label values come from the catalogue. Methodologies without an entry need nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.rules.purchase import CODE as PURCHASE
from app.services.communities.products import purchase_facts

Lookup = Callable[[AsyncSession, Any, datetime], Awaitable[Mapping[str, Any]]]

LOOKUPS: dict[str, Lookup] = {PURCHASE: purchase_facts}


async def facts_for(
    session: AsyncSession, code: str, data: Any, occurred_at: datetime
) -> Mapping[str, Any]:
    lookup = LOOKUPS.get(code)
    return {} if lookup is None else await lookup(session, data, occurred_at)
