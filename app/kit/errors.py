"""The error catalogue: domain failures as classes with a status and a stable ``code``.

Services raise these (or a domain's subclass, declared in that domain's ``errors.py``); the
HTTP rendering lives in ``app.kit.problems``. This module imports no web framework and no
database driver, so any layer may raise a domain error."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ProblemReason(StrEnum):
    """Every ``reason`` a problem may carry: the finer cause of its ``code``. An app acts on
    these without reading English (``token_expired``: refresh; ``token_revoked``,
    ``refresh_reused``, ``token_invalid``: sign in again). The document lists them as an enum
    and a test holds every ``reason=`` in the code to this list."""

    # unauthorized
    TOKEN_MISSING = "token_missing"
    INVALID_CREDENTIALS = "invalid_credentials"
    TOKEN_EXPIRED = "token_expired"
    TOKEN_INVALID = "token_invalid"
    TOKEN_REVOKED = "token_revoked"
    REFRESH_REUSED = "refresh_reused"
    SIGNATURE_INVALID = "signature_invalid"
    TIMESTAMP_STALE = "timestamp_stale"
    NONCE_REUSED = "nonce_reused"
    # forbidden
    ROLE_REQUIRED = "role_required"
    PARTNER_INACTIVE = "partner_inactive"
    MERCHANT_INACTIVE = "merchant_inactive"
    CONSOLE_ROLE_REFUSED = "console_role_refused"
    CSRF_FAILED = "csrf_failed"
    # bad_request
    INVALID_CURSOR = "invalid_cursor"
    # conflict
    REF_TAKEN = "ref_taken"
    LINK_LIMIT = "link_limit"
    CODE_INVALID = "code_invalid"
    CODE_EXPIRED = "code_expired"
    CODE_USED = "code_used"
    CODE_UNKNOWN = "code_unknown"
    JOIN_CODE_UNKNOWN = "join_code_unknown"
    LABEL_EXISTS = "label_exists"
    PRODUCT_IN_USE = "product_in_use"
    # incentive_inactive
    PAUSED = "paused"
    NOT_YET_VALID = "not_yet_valid"
    PAST_VALIDITY = "past_validity"
    # validation_error
    REF_IS_USER_ID = "ref_is_user_id"
    PRODUCT_RETIRED = "product_retired"


REASON_DESCRIPTIONS: dict[ProblemReason, str] = {
    ProblemReason.TOKEN_MISSING: "No bearer token was sent: sign in.",
    ProblemReason.INVALID_CREDENTIALS: "The email or password is not correct.",
    ProblemReason.TOKEN_EXPIRED: "The access token has expired: refresh it.",
    ProblemReason.TOKEN_INVALID: "The token is not valid: sign in again.",
    ProblemReason.TOKEN_REVOKED: "The session has ended: sign in again.",
    ProblemReason.REFRESH_REUSED: "The refresh token was already used: sign in again.",
    ProblemReason.SIGNATURE_INVALID: "The partner key or request signature is not valid.",
    ProblemReason.TIMESTAMP_STALE: "The request timestamp is too far from the server's clock.",
    ProblemReason.NONCE_REUSED: "The request nonce was already used.",
    ProblemReason.ROLE_REQUIRED: "The caller's role may not do this.",
    ProblemReason.PARTNER_INACTIVE: "The partner is deactivated.",
    ProblemReason.MERCHANT_INACTIVE: "The merchant is deactivated.",
    ProblemReason.CONSOLE_ROLE_REFUSED: "The console is for administrators, auditors and "
    "merchant staff.",
    ProblemReason.CSRF_FAILED: "The console session's security token is missing or wrong: "
    "reload the page.",
    ProblemReason.INVALID_CURSOR: "The cursor is not valid: start the list again.",
    ProblemReason.REF_TAKEN: "The reference is linked to another account.",
    ProblemReason.LINK_LIMIT: "The account has as many links to this partner as allowed.",
    ProblemReason.CODE_INVALID: "No pending link has this reference and code.",
    ProblemReason.CODE_EXPIRED: "The code has expired.",
    ProblemReason.CODE_USED: "The member code was already used.",
    ProblemReason.CODE_UNKNOWN: "No member code has this value.",
    ProblemReason.JOIN_CODE_UNKNOWN: "No organisation has this join code.",
    ProblemReason.LABEL_EXISTS: "The certifier's label id is already in the catalogue.",
    ProblemReason.PAUSED: "The incentive is paused.",
    ProblemReason.NOT_YET_VALID: "The incentive is not valid yet.",
    ProblemReason.PAST_VALIDITY: "The incentive is past its validity.",
    ProblemReason.REF_IS_USER_ID: "The reference has the form of a user id.",
    ProblemReason.PRODUCT_IN_USE: "Records name the product, so its label can no longer "
    "change: add a new product.",
    ProblemReason.PRODUCT_RETIRED: "A product of the purchase is retired and cannot be bought.",
}


class DomainError(Exception):
    """An expected failure with an HTTP status and a stable machine-readable code.

    ``reason`` refines ``code`` where there is a finer cause (``unauthorized`` because
    ``token_expired``); a subclass may fix it, a raise may give it. Other keywords are
    extra members of the problem body.

    Every error is declared the same way, in one line: what it changes from its base, as
    class keywords, checked here (``class OutOfStock(Conflict, code="out_of_stock",
    title="Out of stock"): ...``). A ``code`` (with its ``reason``) names one class only."""

    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"
    reason: str | None = None

    def __init_subclass__(
        cls,
        *,
        status: int | None = None,
        code: str | None = None,
        title: str | None = None,
        reason: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if status is not None:
            if not 400 <= status <= 599:
                raise TypeError(f"{cls.__name__}: status {status} is not an error status")
            cls.status = status
        if code is not None:
            cls.code = code
        if title is not None:
            cls.title = title
        if reason is not None:
            cls.reason = ProblemReason(reason).value  # only the listed reasons
        if "code" in vars(cls) or "reason" in vars(cls):  # also one set in the class body
            key = (cls.code, cls.reason)
            other = CATALOGUE.get(key)
            if other is not None and _name(other) != _name(cls):
                raise TypeError(f"{_name(cls)} repeats the code {key} of {_name(other)}")
            CATALOGUE[key] = cls

    def __init__(
        self, detail: str | None = None, *, reason: str | None = None, **extra: Any
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if reason is not None:
            self.reason = reason
        self.extra = extra


# Every declared (code, reason), and the class that declares it.
CATALOGUE: dict[tuple[str, str | None], type[DomainError]] = {}


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


class BadRequest(DomainError, status=400, code="bad_request", title="Bad request"): ...


class Unauthorized(DomainError, status=401, code="unauthorized", title="Not authenticated"): ...


class Forbidden(DomainError, status=403, code="forbidden", title="Not allowed"): ...


class NotFound(DomainError, status=404, code="not_found", title="Not found"): ...


class Conflict(DomainError, status=409, code="conflict", title="Conflict"): ...


class IdempotencyConflict(
    Conflict, code="idempotency_conflict", title="Idempotency key reused with other content"
): ...


class InvalidState(Conflict, code="invalid_state", title="Not possible in the current state"): ...


class ValidationFailed(DomainError, status=422, code="validation_error", title="Validation failed"):
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


class RateLimited(DomainError, status=429, code="rate_limited", title="Too many requests"): ...


class ServiceUnavailable(
    DomainError, status=503, code="unavailable", title="Service unavailable"
): ...
