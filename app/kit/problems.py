"""HTTP rendering of errors: every failure becomes RFC 9457 ``application/problem+json``.

The catalogue of domain errors is ``app.kit.errors``; this module turns them (and FastAPI's
validation errors, Starlette's HTTP errors, database outages and bugs) into responses, and
lists them in the OpenAPI document (``responses()``)."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.db import is_database_outage
from app.i18n import translate
from app.kit.errors import CATALOGUE, DomainError, ProblemReason
from app.kv import KVBusy

logger = logging.getLogger("tanhui.errors")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://tanhui.example/problems/"


class FieldError(BaseModel):
    """One offending field of a request."""

    model_config = ConfigDict(extra="allow")

    field: str = Field(description="Dotted location, e.g. body.occurred_at")
    loc: list[str] | None = Field(default=None, description="The location as a path")
    message: str
    type: str | None = Field(default=None, description="Machine-readable kind of the failure")


class Problem(BaseModel):
    """RFC 9457 problem details. ``code`` is stable; ``reason``, where present, refines it.
    ``title`` and ``detail`` are for people and follow ``Accept-Language``; other members are
    extensions named below, present only where they apply."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URI naming the problem type")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    code: str = Field(description="Stable machine-readable error code")
    reason: ProblemReason | None = Field(
        default=None, description="Stable machine-readable refinement of code, when there is one"
    )
    errors: list[FieldError] | None = Field(default=None, description="Offending fields")
    request_id: str | None = Field(default=None, description="Quote it when reporting a 5xx")
    retry_after: int | None = Field(
        default=None, description="Seconds to wait before retrying (also the Retry-After header)"
    )
    limit: int | None = Field(default=None, description="The limit that was reached")
    per_user_limit: int | None = Field(default=None, description="The incentive's per-user limit")
    checks: dict[str, str] | None = Field(
        default=None, description="Readiness: each dependency and whether it answered"
    )


# Codes of problems that no domain error class raises.
OTHER_CODES = ("malformed_json", "http_error")

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


def problem_body(
    status: int, code: str, detail: str, title: str | None = None, **extra: Any
) -> dict:
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": translate(title or HTTPStatus(status).phrase),
        "status": status,
        "detail": translate(detail),
        "code": code,
    }
    body.update(extra)
    if isinstance(body.get("errors"), list):
        # The field messages are for people too; their field names and types are not.
        body["errors"] = [
            {**e, "message": translate(e["message"])}
            if isinstance(e, dict) and isinstance(e.get("message"), str)
            else e
            for e in body["errors"]
        ]
    return body


def problem(
    status: int,
    code: str,
    detail: str,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, code, detail, title, **extra),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def validation_errors(errors: Any) -> list[dict[str, Any]]:
    """Pydantic/FastAPI errors as a list of offending fields, without echoing raw input."""
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        out.append(
            {
                "field": ".".join(loc),
                "loc": loc,
                "message": err.get("msg", ""),
                "type": err.get("type", ""),
            }
        )
    return out


def domain_problem(exc: DomainError) -> dict[str, Any]:
    extra = {"reason": exc.reason, **exc.extra} if exc.reason else exc.extra
    return problem_body(exc.status, exc.code, exc.detail, exc.title, **extra)


def domain_response(exc: DomainError) -> JSONResponse:
    """The answer to a domain error, wherever it is raised or decided."""
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    if exc.status in (429, 503) and "retry_after" in exc.extra:
        headers = {"Retry-After": str(exc.extra["retry_after"])}
    return JSONResponse(
        domain_problem(exc), status_code=exc.status, media_type=PROBLEM_JSON, headers=headers
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return domain_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc.errors())
        if any(e["type"] == "json_invalid" for e in errors):
            return problem(
                400,
                "malformed_json",
                "The request body is not valid JSON.",
                "Malformed JSON",
                errors=errors,
            )
        return problem(
            422,
            "validation_error",
            "The request has invalid or missing fields.",
            "Validation failed",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return problem(exc.status_code, code, detail, headers=getattr(exc, "headers", None))

    def _retry_later(detail: str, request_id: str | None) -> JSONResponse:
        """503 with ``Retry-After``: nothing was committed, the same request may be sent again.
        This handler runs outside the request-id middleware, so it sets the header itself."""
        return problem(
            503,
            "unavailable",
            detail,
            "Service unavailable",
            headers={
                "Retry-After": "1",
                **({"X-Request-ID": request_id} if request_id else {}),
            },
            request_id=request_id,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = getattr(request.state, "request_id", None)
        if is_database_outage(exc):
            logger.warning(
                "database unreachable: %s", type(exc).__name__, extra={"request_id": request_id}
            )
            # Nothing was committed: every write endpoint is idempotent, so a retry is safe.
            return _retry_later(
                "The database is unreachable for a moment; retry the same request.", request_id
            )
        if isinstance(exc, KVBusy):
            logger.warning("store busy: %s", exc, extra={"request_id": request_id})
            return _retry_later(
                "The service is busy for a moment; retry the same request.", request_id
            )
        logger.exception("unhandled error", extra={"request_id": request_id})
        # This handler runs outside the request-id middleware, so it sets the header itself.
        return problem(
            500,
            "internal_error",
            "An unexpected error occurred; it has been logged.",
            headers={"X-Request-ID": request_id} if request_id else None,
            request_id=request_id,
        )


def problem_codes() -> list[str]:
    """Every ``code`` a problem can have: the domain errors' (of every module imported so far,
    which is every module once the routers are), the HTTP statuses' and the others."""
    codes = set(_STATUS_CODES.values()) | set(OTHER_CODES) | {code for code, _ in CATALOGUE}
    return sorted(codes)


def responses(*errors: type[DomainError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for the domain errors a route may raise."""
    out: dict[int | str, dict[str, Any]] = {}
    for err in errors:
        entry = out.setdefault(
            err.status,
            {
                "description": "",
                "content": {
                    PROBLEM_JSON: {
                        "schema": {"$ref": "#/components/schemas/Problem"},
                        "examples": {},
                    }
                },
            },
        )
        entry["description"] = (
            entry["description"] + " / " if entry["description"] else ""
        ) + err.title
        example = problem_body(err.status, err.code, err.title, err.title)
        if err.reason:
            example["reason"] = err.reason
        entry["content"][PROBLEM_JSON]["examples"][err.reason or err.code] = {"value": example}
    return out
