from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response

from app.deps import Citizen, KVDep, Session, SettingsDep
from app.errors import (
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    RateLimited,
    Unauthorized,
    ValidationFailed,
    _error,
    responses,
)
from app.models import Partner
from app.routers.events import item_result, parse_item
from app.schemas.partners import LinkIn, LinkList, LinkOut
from app.schemas.records import BatchOut, EventIn, PartnerBatchIn, PartnerEventIn
from app.services import partners, ratelimit, records

router = APIRouter(prefix="/v1", tags=["partners"])

TypeNotAllowed = _error(
    "TypeNotAllowed", 403, "type_not_allowed", "Methodology not allowed for this partner"
)
UnknownUser = _error("UnknownUser", 404, "unknown_user", "Unknown user_ref")


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
    partner = await partners.authenticate(
        session,
        kv,
        settings,
        key_id=x_partner_key,
        timestamp=x_timestamp,
        nonce=x_nonce,
        signature=x_signature,
        body=await request.body(),
    )
    await ratelimit.check_partner(kv, settings, partner.key_id)
    return partner


@router.post(
    "/partner/events",
    response_model=BatchOut,
    summary="A data partner's signed batch of up to 1000 records",
    responses=responses(Unauthorized, ValidationFailed, RateLimited),
)
async def partner_events(
    body: PartnerBatchIn,
    partner: Annotated[Partner, Depends(signed_partner)],
    session: Session,
    kv: KVDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    parsed = [parse_item(raw, PartnerEventIn) for raw in body.events]
    refs = [p.user_ref for p in parsed if isinstance(p, PartnerEventIn)]
    users = await partners.resolve_users(session, partner, refs)
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
                    EventIn.model_validate(item.model_dump(exclude={"user_ref"})),
                )
            )
    outcomes = await records.ingest_many(session, settings, kv, items, partner=partner)
    return {"results": [item_result(o) for o in outcomes]}


@router.post(
    "/me/links",
    status_code=201,
    response_model=LinkOut,
    summary="Link an external reference (a transit card, a meter) to the caller",
    responses={
        200: {"description": "Already linked to the caller", "model": LinkOut},
        **responses(Unauthorized, Forbidden, NotFound, Conflict),
    },
)
async def add_link(
    body: LinkIn, response: Response, principal: Citizen, session: Session
) -> dict[str, Any]:
    row, created = await partners.link(session, principal, body.partner_key, body.external_ref)
    if not created:
        response.status_code = 200
    partner = await session.get(Partner, row.partner_id)
    return {
        "id": row.id,
        "partner_key": body.partner_key,
        "partner_name": partner.name if partner else "",
        "external_ref": row.external_ref,
        "created_at": row.created_at,
    }


@router.get(
    "/me/links",
    response_model=LinkList,
    summary="The caller's partner links",
    responses=responses(Unauthorized, Forbidden),
)
async def list_links(principal: Citizen, session: Session) -> dict[str, Any]:
    rows = await partners.links_of(session, principal.id)
    return {
        "items": [
            {
                "id": link.id,
                "partner_key": p.key_id,
                "partner_name": p.name,
                "external_ref": link.external_ref,
                "created_at": link.created_at,
            }
            for link, p in rows
        ]
    }
