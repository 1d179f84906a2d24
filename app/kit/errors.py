"""The error catalogue: domain failures as classes with a status and a stable ``code``.

Services raise these (or a domain's subclass, declared in that domain's ``errors.py``); the
HTTP rendering lives in ``app.kit.problems``. This module imports no web framework and no
database driver, so any layer may raise a domain error."""

from __future__ import annotations

from typing import Any


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


class IdempotencyConflict(Conflict):
    code, title = "idempotency_conflict", "Idempotency key reused with other content"


class InvalidState(Conflict):
    code, title = "invalid_state", "Not possible in the current state"


class ValidationFailed(DomainError):
    status, code, title = 422, "validation_error", "Validation failed"

    @classmethod
    def of(cls, detail: str, errors: list[Any], *, under: str) -> ValidationFailed:
        """A model's validation errors (pydantic's ``exc.errors()``), each field named below
        ``under`` (``data.distance_km``), without echoing the input."""
        found = [
            {
                "field": ".".join([under, *map(str, e["loc"])]),
                "message": e["msg"],
                "type": e["type"],
            }
            for e in errors
        ]
        return cls(detail, errors=found)


class RateLimited(DomainError):
    status, code, title = 429, "rate_limited", "Too many requests"


class ServiceUnavailable(DomainError):
    status, code, title = 503, "unavailable", "Service unavailable"
