"""Data partners over HTTP: signed record batches, citizens' links and their confirmation,
and the administration of partners."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request, Response

from app.deps import Admin, AdminOrAuditor, Citizen, KVDep, Session, SettingsDep
from app.kit.batches import item_result, parse_item
from app.kit.errors import (
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    RateLimited,
    Unauthorized,
    ValidationFailed,
)
from app.kit.inputs import ITEMS_CHECKED_ALONE
from app.kit.problems import responses
from app.models import Partner, UserLink
from app.schemas.partners import (
    LinkConfirmIn,
    LinkIn,
    LinkList,
    LinkOut,
    PartnerCreatedOut,
    PartnerIn,
    PartnerList,
    PartnerOut,
    PartnerPatch,
)
from app.schemas.records import BatchOut, PartnerBatchIn, PartnerRecordIn, RecordIn
from app.services.identity import ratelimit
from app.services.partners import keys, links
from app.services.partners.errors import TypeNotAllowed, UnknownUser
from app.services.records import intake
from app.services.records import views as record_views

partner_routes = APIRouter(prefix="/v1", tags=["partners"])


async def signed_partner(
    request: Request,
    session: Session,
    kv: KVDep,
    settings: SettingsDep,
    x_partner_key: Annotated[str | None, Header()] = None,
    x_timestamp: Annotated[str | None, Header(description="Unix seconds")] = None,
    x_nonce: Annotated[str | None, Header(description="Unique per request, 8–128 chars")] = None,
    x_signature: Annotated[
        str | None,
        Header(description='hex HMAC-SHA256(secret, timestamp + "\\n" + nonce + "\\n" + body)'),
    ] = None,
) -> Partner:
    """Authenticates the request before its body is even validated."""
    partner = await keys.authenticate(
        session,
        kv,
        settings,
        key_id=x_partner_key,
        timestamp=x_timestamp,
        nonce=x_nonce,
        signature=x_signature,
        body=await request.body(),
    )
    await ratelimit.enforce(kv, settings, ratelimit.PARTNER, partner.key_id)
    return partner


@partner_routes.post(
    "/partner/events",
    response_model=BatchOut,
    operation_id="postPartnerEvents",
    summary="A data partner's signed batch of up to 1000 records",
    openapi_extra={ITEMS_CHECKED_ALONE: "events"},
    responses=responses(Unauthorized, Forbidden, ValidationFailed, RateLimited),
)
async def post_partner_records(
    body: PartnerBatchIn,
    partner: Annotated[Partner, Depends(signed_partner)],
    session: Session,
    kv: KVDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    parsed = [parse_item(raw, PartnerRecordIn) for raw in body.events]
    refs = [p.user_ref for p in parsed if isinstance(p, PartnerRecordIn)]
    users = await links.resolve_users(session, partner, refs)
    items: list[tuple[Any, Any]] = []
    for item in parsed:
        if isinstance(item, DomainError):
            items.append((None, item))
        elif item.type not in partner.allowed_types:
            items.append((None, TypeNotAllowed(f"This partner may not submit {item.type!r}.")))
        elif item.user_ref not in users:
            items.append((None, UnknownUser(f"No citizen for user_ref {item.user_ref!r}.")))
        else:
            items.append(
                (
                    users[item.user_ref],
                    RecordIn.model_validate(item.model_dump(exclude={"user_ref"})),
                )
            )
    outcomes = await intake.ingest_many(session, settings, kv, items, partner=partner)
    return {"results": [item_result(o, record_views.item_view) for o in outcomes]}


def _link_view(link: UserLink, partner: Partner, code: str | None = None) -> dict[str, Any]:
    return {
        "id": link.id,
        "partner_key": partner.key_id,
        "partner_name": partner.name,
        "external_ref": link.external_ref,
        "status": link.status,
        "confirmation_code": code,
        "confirmation_expires_at": link.confirmation_expires_at,
        "created_at": link.created_at,
    }


@partner_routes.post(
    "/me/links",
    status_code=201,
    response_model=LinkOut,
    summary="Link an external reference (a transit card, a meter) to the caller",
    responses={
        200: {"description": "Already actively linked to the caller", "model": LinkOut},
        **responses(Unauthorized, Forbidden, NotFound, Conflict, ValidationFailed),
    },
)
async def add_link(
    body: LinkIn, response: Response, principal: Citizen, session: Session, settings: SettingsDep
) -> dict[str, Any]:
    made = await links.link(session, settings, principal.id, body.partner_key, body.external_ref)
    if not made.created:
        response.status_code = 200
    return _link_view(made.link, made.partner, made.code)


@partner_routes.get(
    "/me/links",
    response_model=LinkList,
    summary="The caller's partner links, pending and active",
    responses=responses(Unauthorized, Forbidden),
)
async def list_links(principal: Citizen, session: Session) -> dict[str, Any]:
    rows = await links.links_of(session, principal.id)
    return {"items": [_link_view(link, p) for link, p in rows]}


@partner_routes.delete(
    "/me/links/{link_id}",
    status_code=204,
    summary="Unlink: the partner's records for that reference stop reaching the caller",
    responses=responses(Unauthorized, Forbidden, NotFound),
)
async def delete_link(
    link_id: Annotated[str, Path(max_length=36)], principal: Citizen, session: Session
) -> Response:
    await links.unlink(session, principal.id, link_id)
    return Response(status_code=204)


@partner_routes.post(
    "/partner/links/confirm",
    response_model=LinkOut,
    operation_id="confirmPartnerLink",
    summary="The partner confirms a citizen's pending link with the code the citizen gave it",
    responses=responses(Unauthorized, Forbidden, Conflict, ValidationFailed, RateLimited),
)
async def confirm_link(
    body: LinkConfirmIn,
    partner: Annotated[Partner, Depends(signed_partner)],
    session: Session,
    settings: SettingsDep,
) -> dict[str, Any]:
    link = await links.confirm(
        session, settings, partner, body.external_ref, body.confirmation_code
    )
    return _link_view(link, partner)


admin_routes = APIRouter(
    prefix="/v1/admin", tags=["admin"], responses=responses(Unauthorized, Forbidden)
)

PartnerId = Annotated[str, Path(max_length=36)]


@admin_routes.post(
    "/partners",
    status_code=201,
    response_model=PartnerCreatedOut,
    summary="Register a data partner: key id and secret (the secret is shown once)",
    responses=responses(ValidationFailed),
)
async def create_partner(
    body: PartnerIn, principal: Admin, session: Session, settings: SettingsDep
) -> dict[str, Any]:
    partner, secret = await keys.create(
        session,
        settings,
        name=body.name,
        allowed_types=body.allowed_types,
        link_confirmation=body.link_confirmation,
        refs_case_sensitive=body.refs_case_sensitive,
        actor=principal,
    )
    return {**PartnerOut.model_validate(partner).model_dump(), "secret": secret}


@admin_routes.get(
    "/partners", response_model=PartnerList, summary="Data partners (never their secrets)"
)
async def list_partners(principal: AdminOrAuditor, session: Session) -> dict[str, Any]:
    return {"items": [PartnerOut.model_validate(p) for p in await keys.list_partners(session)]}


@admin_routes.get(
    "/partners/{partner_id}",
    response_model=PartnerOut,
    summary="One data partner (never its secret)",
    responses=responses(NotFound),
)
async def get_partner(
    partner_id: PartnerId, principal: AdminOrAuditor, session: Session
) -> PartnerOut:
    return PartnerOut.model_validate(await keys.get(session, partner_id))


@admin_routes.patch(
    "/partners/{partner_id}",
    response_model=PartnerOut,
    summary="Deactivate or reactivate a partner, change what it may submit or its link rule",
    responses=responses(NotFound, ValidationFailed),
)
async def update_partner(
    partner_id: PartnerId, body: PartnerPatch, principal: Admin, session: Session
) -> PartnerOut:
    partner = await keys.update(
        session,
        partner_id,
        body.model_dump(exclude_unset=True),
        actor=principal,
    )
    return PartnerOut.model_validate(partner)


@admin_routes.post(
    "/partners/{partner_id}/rotate",
    response_model=PartnerCreatedOut,
    summary="A new secret for the partner, shown once; the old one stops working at once",
    responses=responses(NotFound),
)
async def rotate_partner_secret(
    partner_id: PartnerId, principal: Admin, session: Session, settings: SettingsDep
) -> dict[str, Any]:
    partner, secret = await keys.rotate(session, settings, partner_id, actor=principal)
    return {**PartnerOut.model_validate(partner).model_dump(), "secret": secret}


router = APIRouter()
router.include_router(partner_routes)
router.include_router(admin_routes)
