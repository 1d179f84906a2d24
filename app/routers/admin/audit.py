"""The audit trail of administrative acts (read-only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from app.deps import AdminOrAuditor, Session
from app.errors import BadRequest, Forbidden, Unauthorized, responses
from app.kit.pagination import CursorParam, LimitParam
from app.schemas.admin import AuditOut, AuditPage
from app.services.audit_query import AuditFilter, list_entries

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=responses(Unauthorized, Forbidden))


@router.get(
    "/audit",
    response_model=AuditPage,
    summary="Administrative acts, newest first, filtered",
    responses=responses(BadRequest),
)
async def list_audit(
    principal: AdminOrAuditor,
    session: Session,
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor_id: Annotated[str | None, Query(max_length=36)] = None,
    target_type: Annotated[str | None, Query(max_length=32)] = None,
    target_id: Annotated[str | None, Query(max_length=80)] = None,
    start: Annotated[
        AwareDatetime | None, Query(alias="from", description="created_at >= from")
    ] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to", description="created_at < to")] = None,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> AuditPage:
    flt = AuditFilter(
        action=action,
        actor_id=actor_id,
        target_type=target_type,
        target_id=target_id,
        start=start,
        end=end,
    )
    items, next_cursor = await list_entries(session, flt, limit, cursor)
    return AuditPage(items=[AuditOut.model_validate(e) for e in items], next_cursor=next_cursor)
