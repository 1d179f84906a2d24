"""Trust over HTTP: verified-reduction batches (administrators issue, retire and transfer;
anyone verifies a serial) and recompute audits."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from app.deps import Admin, AdminOrAuditor, Engine, Session, SettingsDep
from app.kit.errors import BadRequest, Forbidden, NotFound, Unauthorized, ValidationFailed
from app.kit.pagination import CursorParam, LimitParam
from app.kit.problems import responses
from app.models.trust import BatchStatus
from app.schemas.trust import (
    AuditRunOut,
    AuditStarted,
    PublicBatchOut,
    RecomputeIn,
    ReductionBatchesPage,
    ReductionBatchExport,
    ReductionBatchIn,
    ReductionBatchOut,
    RetireIn,
    TransferIn,
)
from app.security import Actor
from app.services.trust import batches, recompute, retirement
from app.services.trust.errors import BatchFinal, NothingToIssue

admin_routes = APIRouter(
    prefix="/v1/admin", tags=["trust"], responses=responses(Unauthorized, Forbidden)
)


@admin_routes.post(
    "/batches",
    status_code=201,
    response_model=ReductionBatchOut,
    summary="Issue a verified-reduction batch: one serial per whole tonne",
    description="Every credited, unreversed record that occurred in [from, to) (one year: the "
    "vintage), of the methodology and region if given, and not yet in a batch joins it. The "
    "grams under a whole tonne carry over to the series' next batch. 409 `nothing_to_issue` "
    "when the records (with what was carried over) make less than a tonne: nothing changes.",
    responses=responses(ValidationFailed, NothingToIssue),
)
async def issue_batch(
    body: ReductionBatchIn, principal: Admin, session: Session, settings: SettingsDep
) -> ReductionBatchOut:
    batch = await batches.issue(
        session,
        batches.BatchTerms(body.start, body.end, body.methodology, body.region, body.note),
        actor=principal,
        tz=settings.tz,
    )
    return ReductionBatchOut.model_validate(batches.view(batch))


@admin_routes.get(
    "/batches",
    response_model=ReductionBatchesPage,
    summary="Batches, newest first",
    responses=responses(BadRequest),
)
async def list_batches(
    principal: AdminOrAuditor,
    session: Session,
    status: BatchStatus | None = None,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> ReductionBatchesPage:
    items, next_cursor = await batches.page(session, limit, cursor, status)
    return ReductionBatchesPage.model_validate(
        {"items": [batches.view(b) for b in items], "next_cursor": next_cursor}
    )


@admin_routes.get(
    "/batches/{batch_id}",
    response_model=ReductionBatchOut,
    summary="One batch",
    responses=responses(NotFound),
)
async def get_batch(
    batch_id: str, principal: AdminOrAuditor, session: Session
) -> ReductionBatchOut:
    return ReductionBatchOut.model_validate(batches.view(await batches.get(session, batch_id)))


@admin_routes.post(
    "/batches/{batch_id}/retire",
    response_model=ReductionBatchOut,
    summary="Retire a batch (claimed as an offset) for a beneficiary, once",
    responses=responses(NotFound, BatchFinal, ValidationFailed),
)
async def retire_batch(
    batch_id: str, body: RetireIn, principal: Admin, session: Session
) -> ReductionBatchOut:
    return await _finalise(
        session, batch_id, BatchStatus.RETIRED, body.beneficiary, body.note, principal
    )


@admin_routes.post(
    "/batches/{batch_id}/transfer",
    response_model=ReductionBatchOut,
    summary="Transfer a batch (sold) to a named holder, once",
    responses=responses(NotFound, BatchFinal, ValidationFailed),
)
async def transfer_batch(
    batch_id: str, body: TransferIn, principal: Admin, session: Session
) -> ReductionBatchOut:
    return await _finalise(
        session, batch_id, BatchStatus.TRANSFERRED, body.to, body.note, principal
    )


async def _finalise(
    session: AsyncSession,
    batch_id: str,
    to: BatchStatus,
    party: str,
    note: str | None,
    principal: Actor,
) -> ReductionBatchOut:
    """Retire (``party``: the beneficiary) or transfer (``party``: the holder), once."""
    batch = await retirement.finalise(
        session, batch_id, to=to, party=party, note=note, actor=principal
    )
    return ReductionBatchOut.model_validate(batches.view(batch))


@admin_routes.get(
    "/batches/{batch_id}/export",
    summary="A batch and its records for a registry submission: JSON, or CSV with "
    "`Accept: text/csv`",
    response_class=StreamingResponse,
    responses={
        200: {
            "model": ReductionBatchExport,
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "The batch and one item (or row) per record",
        },
        **responses(NotFound),
    },
)
async def export_batch(
    batch_id: str, request: Request, principal: AdminOrAuditor, session: Session, engine: Engine
) -> StreamingResponse:
    await batches.get(session, batch_id)  # 404 before the stream starts
    as_csv = "text/csv" in request.headers.get("accept", "").lower()
    return StreamingResponse(
        retirement.export_stream(engine, batch_id, as_csv),
        media_type="text/csv; charset=utf-8" if as_csv else "application/json",
        headers={
            "Content-Disposition": f'attachment; filename="batch-{batch_id}.'
            + ("csv" if as_csv else "json")
            + '"'
        },
    )


@admin_routes.post(
    "/audits/recompute",
    status_code=202,
    response_model=AuditStarted,
    summary="Recompute every credited record of a range from its stored inputs and parameters",
    description="Runs in the background; follow it with `GET /v1/admin/audits/{id}`.",
    responses=responses(ValidationFailed),
)
async def start_recompute(
    body: RecomputeIn, request: Request, principal: Admin, session: Session, engine: Engine
) -> AuditStarted:
    run = await recompute.start(
        session,
        engine,
        request.app.state.sessionmaker,
        recompute.Scope(body.start, body.end, body.methodology),
        principal,
    )
    return AuditStarted(id=run.id)


@admin_routes.get(
    "/audits/{audit_id}",
    response_model=AuditRunOut,
    summary="A recompute audit: status, records checked, mismatches",
    responses=responses(NotFound),
)
async def get_audit(audit_id: str, principal: AdminOrAuditor, session: Session) -> AuditRunOut:
    return AuditRunOut.model_validate(await recompute.get(session, audit_id), from_attributes=True)


public_routes = APIRouter(prefix="/v1/public", tags=["public"])


@public_routes.get(
    "/batches/{serial}",
    response_model=PublicBatchOut,
    summary="Verify a serial: the batch that holds it, its status, holder or beneficiary, "
    "totals and hash",
    responses=responses(NotFound),
)
async def public_batch(serial: str, session: Session) -> PublicBatchOut:
    batch, n = await batches.by_serial(session, serial)
    view = batches.view(batch)
    return PublicBatchOut.model_validate(
        {**view, "serial": batches.serial(batch.prefix, n), "batch_id": batch.id}
    )


router = APIRouter()
router.include_router(admin_routes)
router.include_router(public_routes)
