"""The catalogue of carbon-labelled products, and the facts a purchase record reads from it.

A product's label values (label id, certifier, grams per unit, source, validity) never change
once a record names the product: records are recomputed from them. Until then an
administrator may correct them; afterwards a corrected label is a new product, and the old
one ends with its ``valid_until`` or is retired. Retiring ends a product's force at that
instant: records that occurred before keep their value, later ones are refused.

Locks: a label edit takes the product row ``FOR UPDATE`` before it looks for records naming
the product; a purchase reads the products it names ``FOR SHARE`` (PostgreSQL; SQLite has one
writer), so an edit waits for purchases in flight and sees their records, and purchases wait
for an edit. Purchases of one product never wait for each other."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import new_id, utcnow
from app.kit.errors import Conflict, NotFound, ValidationFailed
from app.kit.pagination import Keyset
from app.models import Product, Record
from app.rules.base import dec
from app.rules.purchase import CODE as PURCHASE
from app.security import Actor
from app.services.admin import audit

LABEL_FIELDS = (
    "label_id",
    "certifier",
    "reduction_g_per_unit",
    "source",
    "valid_from",
    "valid_until",
)


def in_force(product: Product, at: datetime) -> bool:
    return (
        (product.valid_from is None or product.valid_from <= at)
        and (product.valid_until is None or at < product.valid_until)
        and (product.retired_at is None or at < product.retired_at)
    )


def view(product: Product, now: datetime | None = None) -> dict[str, Any]:
    return {
        "id": product.id,
        "name": product.name,
        "label_id": product.label_id,
        "certifier": product.certifier,
        "reduction_g_per_unit": product.reduction_g_per_unit,
        "source": product.source,
        "valid_from": product.valid_from,
        "valid_until": product.valid_until,
        "in_force": in_force(product, now or utcnow()),
        "active": product.retired_at is None,
        "retired_at": product.retired_at,
    }


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


async def create(session: AsyncSession, *, actor: Actor, data: dict[str, Any]) -> Product:
    valid_from, valid_until = data.get("valid_from"), data.get("valid_until")
    _check_validity(valid_from, valid_until)
    product = Product(
        id=new_id(),
        name=data["name"],
        label_id=data["label_id"],
        certifier=data["certifier"],
        reduction_g_per_unit=dec(Decimal(data["reduction_g_per_unit"])),
        source=data["source"],
        valid_from=valid_from,
        valid_until=valid_until,
        created_at=utcnow(),
    )
    try:
        async with session.begin_nested():
            session.add(product)
            await session.flush()
    except IntegrityError:
        raise Conflict(
            "This certifier's label id is already in the catalogue.", reason="label_exists"
        ) from None
    await audit.record(
        session,
        actor=actor,
        action="product.create",
        target_type="product",
        target_id=product.id,
        after=_audited(product),
    )
    return product


def _check_validity(valid_from: datetime | None, valid_until: datetime | None) -> None:
    if valid_from and valid_until and valid_until <= valid_from:
        raise ValidationFailed(
            "valid_until must be after valid_from.",
            errors=[{"field": "valid_until", "message": "not after valid_from"}],
        )


def _audited(product: Product) -> dict[str, Any]:
    return {
        "name": product.name,
        "label_id": product.label_id,
        "certifier": product.certifier,
        "reduction_g_per_unit": product.reduction_g_per_unit,
        "source": product.source,
        "valid_from": _iso(product.valid_from),
        "valid_until": _iso(product.valid_until),
        "retired_at": _iso(product.retired_at),
    }


async def named_by_a_record(session: AsyncSession, product_id: str) -> bool:
    """Whether any record (of any state) names the product; its label is then fixed."""
    found = await session.scalar(
        select(Record.id)
        .where(Record.type == PURCHASE, Record.data["product_id"].as_string() == product_id)
        .limit(1)
    )
    return found is not None


async def get(session: AsyncSession, product_id: str, *, lock: bool = False) -> Product:
    query = select(Product).where(Product.id == product_id)
    product = await session.scalar(query.with_for_update() if lock else query)
    if product is None:
        raise NotFound(f"Product {product_id} does not exist.")
    return product


async def update_product(
    session: AsyncSession, *, actor: Actor, product_id: str, changes: dict[str, Any]
) -> Product:
    """Apply the fields present in ``changes`` (``name``, label fields, ``active``), audited
    with the values before and after. Label fields that would change are refused once a
    record names the product (409 ``product_in_use``)."""
    product = await get(session, product_id, lock=True)
    before = _audited(product)
    if "reduction_g_per_unit" in changes:
        changes["reduction_g_per_unit"] = dec(Decimal(changes["reduction_g_per_unit"]))
    relabel = {k: v for k, v in changes.items() if k in LABEL_FIELDS and getattr(product, k) != v}
    _check_validity(
        relabel.get("valid_from", product.valid_from),
        relabel.get("valid_until", product.valid_until),
    )
    if relabel and await named_by_a_record(session, product.id):
        raise Conflict(
            "Records already name this product, so its label can no longer change; "
            "add the corrected label as a new product and retire this one.",
            reason="product_in_use",
        )
    for key, value in relabel.items():
        setattr(product, key, value)
    if changes.get("name") is not None:
        product.name = changes["name"]
    if changes.get("active") is False and product.retired_at is None:
        product.retired_at = utcnow()
    elif changes.get("active") is True:
        product.retired_at = None
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(
            "This certifier's label id is already in the catalogue.", reason="label_exists"
        ) from None
    await audit.record_change(
        session,
        actor=actor,
        action="product.update",
        target_type="product",
        target_id=product.id,
        before=before,
        after=_audited(product),
    )
    return product


NEWEST = Keyset((Product.created_at, Product.id))


async def list_in_force(
    session: AsyncSession, now: datetime, limit: int, cursor: str | None
) -> tuple[list[Product], str | None]:
    query = select(Product).where(
        or_(Product.valid_from.is_(None), Product.valid_from <= now),
        or_(Product.valid_until.is_(None), Product.valid_until > now),
        or_(Product.retired_at.is_(None), Product.retired_at > now),
    )
    return NEWEST.page((await session.scalars(NEWEST.apply(query, cursor, limit))).all(), limit)


async def list_all(
    session: AsyncSession, *, active: bool | None, limit: int, cursor: str | None
) -> tuple[list[Product], str | None]:
    """The whole catalogue for administrators, retired products included, newest first."""
    query = select(Product)
    if active is True:
        query = query.where(Product.retired_at.is_(None))
    elif active is False:
        query = query.where(Product.retired_at.is_not(None))
    return NEWEST.page((await session.scalars(NEWEST.apply(query, cursor, limit))).all(), limit)


async def products_by_id(session: AsyncSession, ids: list[str]) -> dict[str, Product]:
    rows = await session.scalars(
        select(Product).where(Product.id.in_(sorted(set(ids)))).with_for_update(read=True)
    )
    return {p.id: p for p in rows}


def facts(product: Product | None, occurred_at: datetime) -> dict[str, Any]:
    """What ``purchase.labelled_product`` reads about the product named by a record."""
    if product is None:
        return {}
    return {
        "product": {
            "in_force": in_force(product, occurred_at),
            "name": product.name,
            "label_id": product.label_id,
            "certifier": product.certifier,
            "source": product.source,
            "reduction_g_per_unit": product.reduction_g_per_unit,
            "valid_from": product.valid_from.isoformat() if product.valid_from else None,
            "valid_until": product.valid_until.isoformat() if product.valid_until else None,
        }
    }


async def purchase_facts(session: AsyncSession, data: Any, occurred_at: datetime) -> dict[str, Any]:
    product = await session.scalar(
        select(Product).where(Product.id == data.product_id).with_for_update(read=True)
    )
    return facts(product, occurred_at)


async def catalogue_facts(
    session: AsyncSession,
) -> Callable[[Any, datetime], dict[str, Any]]:
    """The whole catalogue, read once, as a lookup of purchase facts (for a simulation)."""
    catalogue = {p.id: p for p in await session.scalars(select(Product))}

    def lookup(data: Any, occurred_at: datetime) -> dict[str, Any]:
        return facts(catalogue.get(data.product_id), occurred_at)

    return lookup
