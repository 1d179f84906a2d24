"""Domain errors and the one place that turns every error into RFC 9457 problem+json."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger("tanhui.errors")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://tanhui.example/problems/"


class DomainError(Exception):
    """An expected failure with an HTTP status and a stable machine-readable code.

    ``reason`` refines ``code`` where there is a finer cause (``unauthorized`` because
    ``token_expired``); a subclass may fix it, a raise may give it. Other keywords are
    extra members of the problem body."""

    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"
    reason: str | None = None

    def __init__(
        self, detail: str | None = None, *, reason: str | None = None, **extra: Any
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if reason is not None:
            self.reason = reason
        self.extra = extra


def _error(name: str, status: int, code: str, title: str) -> type[DomainError]:
    """A new error class, for a feature module's own codes."""
    return type(name, (DomainError,), {"status": status, "code": code, "title": title})


class BadRequest(DomainError):
    status, code, title = 400, "bad_request", "Bad request"


class Unauthorized(DomainError):
    status, code, title = 401, "unauthorized", "Not authenticated"


class Forbidden(DomainError):
    status, code, title = 403, "forbidden", "Not allowed"


class NotFound(DomainError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(DomainError):
    status, code, title = 409, "conflict", "Conflict"


class EmailTaken(DomainError):
    status, code, title = 409, "email_taken", "Email already registered"


class IdempotencyConflict(DomainError):
    status, code, title = 409, "idempotency_conflict", "Idempotency key reused with other content"


class InsufficientPoints(DomainError):
    status, code, title = 409, "insufficient_points", "Not enough points"


class OutOfStock(DomainError):
    status, code, title = 409, "out_of_stock", "Out of stock"


class LimitReached(DomainError):
    status, code, title = 409, "limit_reached", "Per-user limit reached"


class IncentiveInactive(DomainError):
    status, code, title = 409, "incentive_inactive", "Incentive not active"


class InvalidState(DomainError):
    status, code, title = 409, "invalid_state", "Not possible in the current state"


class AlreadyReversed(DomainError):
    status, code, title = 409, "already_reversed", "Already reversed"


class ValidationFailed(DomainError):
    status, code, title = 422, "validation_error", "Validation failed"


class UnknownType(DomainError):
    status, code, title = 422, "unknown_type", "Unknown methodology"


class WeakPassword(DomainError):
    status, code, title = 422, "weak_password", "Password too weak"


class RateLimited(DomainError):
    status, code, title = 429, "rate_limited", "Too many requests"


class ServiceUnavailable(DomainError):
    status, code, title = 503, "unavailable", "Service unavailable"


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
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    body.update(extra)
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


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if exc.status in (429, 503) and "retry_after" in exc.extra:
            headers = {"Retry-After": str(exc.extra["retry_after"])}
        return JSONResponse(
            domain_problem(exc), status_code=exc.status, media_type=PROBLEM_JSON, headers=headers
        )

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

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = getattr(request.state, "request_id", None)
        if is_database_outage(exc):
            logger.warning(
                "database unreachable: %s", type(exc).__name__, extra={"request_id": request_id}
            )
            # Nothing was committed: every write endpoint is idempotent, so a retry is safe.
            return problem(
                503,
                "unavailable",
                "The database is unreachable for a moment; retry the same request.",
                "Service unavailable",
                headers={
                    "Retry-After": "1",
                    **({"X-Request-ID": request_id} if request_id else {}),
                },
                request_id=request_id,
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


_OUTAGES = (
    OSError,  # refused, reset, unreachable
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,  # starting up, shutting down, in recovery
    asyncpg.exceptions.OperatorInterventionError,  # terminated by a restart
    asyncpg.ConnectionDoesNotExistError,  # closed in the middle of an operation
)


def is_database_outage(exc: BaseException) -> bool:
    """A lost or refused database connection (a restart or failover), not a bug."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, _OUTAGES) or (isinstance(e, DBAPIError) and e.connection_invalidated):
            return True
        orig = e.orig if isinstance(e, DBAPIError) else None
        todo += [orig if isinstance(orig, BaseException) else None, e.__cause__, e.__context__]
    return False


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
