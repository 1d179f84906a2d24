"""Carbon-labelled products: the catalogue, the citizen's member code, and purchases posted at
a merchant's till."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from app.db import utcnow
from app.deps import Admin, Citizen, CurrentUser, KVDep, MerchantStaff, Session, SettingsDep
from app.kit.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    IdempotencyConflict,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from app.kit.pagination import CursorParam, LimitParam
from app.kit.problems import responses
from app.schemas.communities.products import (
    MemberCodeOut,
    ProductIn,
    ProductOut,
    ProductPatch,
    ProductsPage,
    PurchaseIn,
    PurchaseOut,
)
from app.schemas.records import RecordOut
from app.services.communities import member_codes, products, purchases
from app.services.communities.errors import MemberCodeRefused
from app.services.rewards import merchants as merchant_service

router = APIRouter(prefix="/v1", tags=["products"], responses=responses(Unauthorized))


@router.post(
    "/admin/products",
    status_code=201,
    response_model=ProductOut,
    summary="Add a carbon-labelled product to the catalogue",
    responses=responses(Forbidden, Conflict, ValidationFailed),
)
async def create_product(body: ProductIn, principal: Admin, session: Session) -> ProductOut:
    product = await products.create(session, actor=principal, data=body.model_dump())
    return ProductOut.model_validate(products.view(product))


@router.get(
    "/admin/products",
    response_model=ProductsPage,
    summary="The whole catalogue, retired products included, newest first",
    responses=responses(Forbidden, BadRequest),
)
async def admin_list_products(
    principal: Admin,
    session: Session,
    active: Annotated[
        bool | None, Query(description="true: only active; false: only retired; unset: all")
    ] = None,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> ProductsPage:
    now = utcnow()
    items, next_cursor = await products.list_all(session, active=active, limit=limit, cursor=cursor)
    return ProductsPage.model_validate(
        {"items": [products.view(p, now) for p in items], "next_cursor": next_cursor}
    )


@router.get(
    "/admin/products/{product_id}",
    response_model=ProductOut,
    summary="One product of the catalogue, retired or not",
    responses=responses(Forbidden, NotFound),
)
async def admin_get_product(
    product_id: Annotated[str, Path(max_length=36)], principal: Admin, session: Session
) -> ProductOut:
    return ProductOut.model_validate(products.view(await products.get(session, product_id)))


@router.patch(
    "/admin/products/{product_id}",
    response_model=ProductOut,
    summary="Rename, correct the label of, retire or reinstate a product",
    description=(
        "Only the fields sent change. Label fields (label id, certifier, grams per unit, "
        "source, validity) can change only while no record names the product; afterwards "
        "the answer is 409 `product_in_use`: add the corrected label as a new product and "
        "retire this one. A retired product (`active: false`) cannot be bought from then on; "
        "records that occurred before keep their value."
    ),
    responses=responses(Forbidden, NotFound, Conflict, ValidationFailed),
)
async def update_product(
    product_id: Annotated[str, Path(max_length=36)],
    body: ProductPatch,
    principal: Admin,
    session: Session,
) -> ProductOut:
    product = await products.update_product(
        session, actor=principal, product_id=product_id, changes=body.model_dump(exclude_unset=True)
    )
    return ProductOut.model_validate(products.view(product))


@router.get(
    "/products",
    response_model=ProductsPage,
    summary="Labelled products in force, newest first",
    responses=responses(BadRequest),
)
async def list_products(
    principal: CurrentUser, session: Session, limit: LimitParam = 50, cursor: CursorParam = None
) -> ProductsPage:
    now = utcnow()
    items, next_cursor = await products.list_in_force(session, now, limit, cursor)
    return ProductsPage.model_validate(
        {"items": [products.view(p, now) for p in items], "next_cursor": next_cursor}
    )


@router.get(
    "/me/member-code",
    response_model=MemberCodeOut,
    summary="A member code to show at a till: valid 2 minutes, usable once",
    responses=responses(Forbidden),
)
async def member_code(
    principal: Citizen, session: Session, settings: SettingsDep, response: Response
) -> MemberCodeOut:
    code, expires_in = await member_codes.issue(session, settings.jwt_key, principal.id)
    response.headers["Cache-Control"] = "no-store"
    return MemberCodeOut(code=code, expires_in=expires_in)


@router.post(
    "/merchant/purchases",
    status_code=201,
    response_model=PurchaseOut,
    summary="Post a labelled purchase for the citizen who showed a member code",
    description=(
        "Each item becomes a record of `purchase.labelled_product` credited to the citizen. "
        "201 for a new purchase; 200 with the same body when this merchant already posted "
        "this `client_event_id` with the same content (a safe retry)."
    ),
    responses={
        200: {"model": PurchaseOut, "description": "Replay of an earlier request"},
        **responses(Forbidden, MemberCodeRefused, IdempotencyConflict, ValidationFailed),
    },
)
async def post_purchase(
    body: PurchaseIn,
    principal: MerchantStaff,
    session: Session,
    settings: SettingsDep,
    kv: KVDep,
    response: Response,
) -> dict[str, Any]:
    if principal.merchant_id is None:
        raise Forbidden("This account is not staff of a merchant.")
    await merchant_service.require_active(session, principal.merchant_id)
    rung = await purchases.ring_up(
        session,
        settings,
        kv,
        merchant_id=principal.merchant_id,
        staff_id=principal.id,
        member_code=body.member_code,
        client_event_id=body.client_event_id,
        items=[item.model_dump() for item in body.items],
        now=utcnow(),
    )
    if not rung.created:
        response.status_code = 200
    return {
        "id": rung.purchase.id,
        "client_event_id": rung.purchase.client_event_id,
        "created_at": rung.purchase.created_at,
        "reduction_g": sum(r.reduction_g for r in rung.records),
        "points": sum(r.points for r in rung.records),
        "records": [RecordOut.model_validate(r) for r in rung.records],
    }
