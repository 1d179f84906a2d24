from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from app.db import utcnow
from app.deps import Admin, CurrentUser, KVDep, Session, SettingsDep
from app.errors import Forbidden, ServiceUnavailable, Unauthorized, responses
from app.schemas.auth import REGION_PATTERN
from app.services import audit, leaderboards

router = APIRouter(prefix="/v1", tags=["leaderboards"], responses=responses(Unauthorized))


@router.get(
    "/leaderboards/{period}",
    summary="Top citizens by verified reduction, and your rank",
    responses=responses(ServiceUnavailable),
)
async def get_board(
    period: Literal["day", "week", "month", "all"],
    principal: CurrentUser,
    session: Session,
    kv: KVDep,
    settings: SettingsDep,
    region: Annotated[str | None, Query(pattern=REGION_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    return await leaderboards.board(
        session, kv, settings, period, region, principal.id, limit, utcnow()
    )


@router.post(
    "/admin/leaderboards/rebuild",
    tags=["admin"],
    summary="Recompute every leaderboard from the credited records",
    responses=responses(Forbidden),
)
async def rebuild(
    principal: Admin, session: Session, kv: KVDep, settings: SettingsDep
) -> dict[str, Any]:
    rows = await leaderboards.rebuild(session, kv, settings)
    await audit.record(
        session,
        actor_id=principal.id,
        actor_role=principal.role,
        action="leaderboards.rebuilt",
        target_type="leaderboards",
        target_id=None,
        after={"rows": rows},
    )
    return {"rebuilt_from_rows": rows}
