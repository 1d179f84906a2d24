"""The catalogue of carbon-labelled products, and the facts a purchase record reads from it.

A product's label values (label id, certifier, grams per unit, source) never change once
published: records are recomputed from them. A corrected label is a new product; the old one
ends with its ``valid_until``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import new_id, utcnow
from app.kit.errors import Conflict, ValidationFailed
from app.kit.pagination import Keyset
from app.models import Product
from app.rules.base import dec
from app.security import Actor
from app.services.admin import audit


def in_force(product: Product, at: datetime) -> bool:
    return (product.valid_from is None or product.valid_from <= at) and (
        product.valid_until is None or at < product.valid_until
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
    }


async def create(session: AsyncSession, *, actor: Actor, data: dict[str, Any]) -> Product:
    valid_from, valid_until = data.get("valid_from"), data.get("valid_until")
    if valid_from and valid_until and valid_until <= valid_from:
        raise ValidationFailed(
            "valid_until must be after valid_from.",
            errors=[{"field": "valid_until", "message": "not after valid_from"}],
        )
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
        after={
            **view(product),
            "valid_from": valid_from.isoformat() if valid_from else None,
            "valid_until": valid_until.isoformat() if valid_until else None,
        },
    )
    return product


NEWEST = Keyset((Product.created_at, Product.id))


async def list_in_force(
    session: AsyncSession, now: datetime, limit: int, cursor: str | None
) -> tuple[list[Product], str | None]:
    query = select(Product).where(
        or_(Product.valid_from.is_(None), Product.valid_from <= now),
        or_(Product.valid_until.is_(None), Product.valid_until > now),
    )
    return NEWEST.page((await session.scalars(NEWEST.apply(query, cursor, limit))).all(), limit)


async def products_by_id(session: AsyncSession, ids: list[str]) -> dict[str, Product]:
    rows = await session.scalars(select(Product).where(Product.id.in_(sorted(set(ids)))))
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
    product = await session.get(Product, data.product_id)
    return facts(product, occurred_at)


async def catalogue_facts(
    session: AsyncSession,
) -> Callable[[Any, datetime], dict[str, Any]]:
    """The whole catalogue, read once, as a lookup of purchase facts (for a simulation)."""
    catalogue = {p.id: p for p in await session.scalars(select(Product))}

    def lookup(data: Any, occurred_at: datetime) -> dict[str, Any]:
        return facts(catalogue.get(data.product_id), occurred_at)

    return lookup
