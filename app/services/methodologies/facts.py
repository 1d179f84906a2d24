"""Facts a methodology needs that its record does not carry, looked up by the record path
before the (pure) methodology runs: a labelled purchase names a product, and the product's
label values come from the catalogue. Methodologies without an entry need nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.rules.purchase import CODE as PURCHASE
from app.services.communities.products import catalogue_facts, purchase_facts

Lookup = Callable[[AsyncSession, Any, datetime], Awaitable[Mapping[str, Any]]]
Facts = Callable[[Any, datetime], Mapping[str, Any]]
# For many records at once (a simulation streams them and cannot query in between): what the
# lookup would read, loaded before the stream.
Preload = Callable[[AsyncSession], Awaitable[Facts]]

LOOKUPS: dict[str, Lookup] = {PURCHASE: purchase_facts}
PRELOADS: dict[str, Preload] = {PURCHASE: catalogue_facts}


async def facts_for(
    session: AsyncSession, code: str, data: Any, occurred_at: datetime
) -> Mapping[str, Any]:
    lookup = LOOKUPS.get(code)
    return {} if lookup is None else await lookup(session, data, occurred_at)


def no_facts(data: Any, occurred_at: datetime) -> Mapping[str, Any]:
    return {}


async def preloaded(session: AsyncSession, code: str) -> Facts:
    preload = PRELOADS.get(code)
    return no_facts if preload is None else await preload(session)
