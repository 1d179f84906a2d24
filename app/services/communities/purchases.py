"""Labelled purchases at a till: merchant staff scan the citizen's member code and post what
was bought; each product bought becomes a record of ``purchase.labelled_product`` on the
ordinary record path (versions, caps, plausibility, review), credited to that citizen.

Idempotent per merchant and ``client_event_id``. The purchase row is claimed first
(``INSERT … ON CONFLICT DO NOTHING``): a retry, or the same request raced, finds the claim,
waits for it on PostgreSQL, and answers the stored records; the member code is taken after
the claim, so a retry never fails because its own first attempt used the code. Everything is
one unit of work: a refused code or record leaves neither a claim nor a used code behind.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import insert_ignore, new_id
from app.kit.errors import DomainError, IdempotencyConflict, ValidationFailed
from app.kv import KV
from app.models import Purchase, Record, User
from app.rules.purchase import CODE
from app.schemas.records import RecordIn
from app.services.communities import member_codes, products
from app.services.communities.errors import MemberCodeRefused
from app.services.records import intake
from app.services.records.prepared import AnyRecord


@dataclass(frozen=True)
class Rung:
    purchase: Purchase
    records: list[AnyRecord]
    created: bool  # False: a replay of an earlier request


def _request_hash(secret: str, member_code: str, items: list[dict[str, Any]]) -> str:
    code = member_codes.normalise(member_code) or member_code
    body = json.dumps(
        {"code": member_codes.hash_code(secret, code), "items": items},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


def record_id_for(merchant_id: str, client_event_id: str, index: int) -> str:
    """The citizen-side client_event_id of a purchase's item: unique per merchant and id."""
    return f"till:{merchant_id}:{client_event_id}:{index}"


async def _check_items(session: AsyncSession, items: list[dict[str, Any]], now: datetime) -> None:
    found = await products.products_by_id(session, [i["product_id"] for i in items])
    errors = []
    retired = False
    seen: set[str] = set()
    for n, item in enumerate(items):
        product = found.get(item["product_id"])
        if item["product_id"] in seen:
            errors.append({"field": f"items.{n}.product_id", "message": "listed twice"})
        elif product is None:
            errors.append({"field": f"items.{n}.product_id", "message": "no such product"})
        elif product.retired_at is not None and product.retired_at <= now:
            retired = True
            errors.append({"field": f"items.{n}.product_id", "message": "the product is retired"})
        elif not products.in_force(product, now):
            errors.append(
                {"field": f"items.{n}.product_id", "message": "the label is not valid today"}
            )
        seen.add(item["product_id"])
    if errors:
        raise ValidationFailed(
            "Every item must name a labelled product in force, once.",
            errors=errors,
            reason="product_retired" if retired else None,
        )


async def _replay(session: AsyncSession, merchant_id: str, cid: str, digest: str) -> Rung:
    found = await session.scalar(
        select(Purchase)
        .where(Purchase.merchant_id == merchant_id, Purchase.client_event_id == cid)
        .execution_options(populate_existing=True)
    )
    assert found is not None  # claimed by a transaction that has committed
    if found.request_hash != digest:
        raise IdempotencyConflict(
            f"client_event_id {cid} was already used by this merchant for another purchase."
        )
    rows = await session.scalars(select(Record).where(Record.id.in_(found.record_ids)))
    by_id = {r.id: r for r in rows}
    return Rung(found, [by_id[i] for i in found.record_ids], created=False)


async def ring_up(
    session: AsyncSession,
    settings: Settings,
    kv: KV | None,
    *,
    merchant_id: str,
    staff_id: str,
    member_code: str,
    client_event_id: str,
    items: list[dict[str, Any]],
    now: datetime,
) -> Rung:
    secret = settings.jwt_key
    digest = _request_hash(secret, member_code, items)
    purchase_id = new_id()
    claimed = await session.scalar(
        insert_ignore(
            session,
            Purchase,
            [
                {
                    "id": purchase_id,
                    "merchant_id": merchant_id,
                    "client_event_id": client_event_id,
                    "request_hash": digest,
                    "staff_id": staff_id,
                    "user_id": None,
                    "record_ids": [],
                    "created_at": now,
                }
            ],
        ).returning(Purchase.id)
    )
    if claimed is None:
        return await _replay(session, merchant_id, client_event_id, digest)
    await _check_items(session, items, now)
    user_id = await member_codes.take(session, secret, member_code, merchant_id, now)
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        raise MemberCodeRefused(
            "This member code was not issued to an active account.", reason="code_unknown"
        )
    records_in = [
        RecordIn(
            client_event_id=record_id_for(merchant_id, client_event_id, n),
            type=CODE,
            occurred_at=now,
            data={"product_id": item["product_id"], "quantity": item["quantity"]},
        )
        for n, item in enumerate(items)
    ]
    outcomes = await intake.ingest_many(
        session, settings, kv, [(user, r) for r in records_in], merchant_id=merchant_id, now=now
    )
    for outcome in outcomes:
        if isinstance(outcome, DomainError):
            raise outcome
    records = [o.record for o in outcomes if not isinstance(o, DomainError)]
    await session.execute(
        update(Purchase)
        .where(Purchase.id == purchase_id)
        .values(user_id=user.id, record_ids=[r.id for r in records])
    )
    purchase = await session.get(Purchase, purchase_id, populate_existing=True)
    assert purchase is not None
    return Rung(purchase, records, created=True)
