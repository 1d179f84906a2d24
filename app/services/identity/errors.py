"""Identity's own errors: registration, passwords. Generic ones are in ``app.kit.errors``."""

from __future__ import annotations

from app.kit.errors import Conflict, Forbidden, ValidationFailed


class EmailTaken(Conflict, code="email_taken", title="Email already registered"): ...


class WeakPassword(ValidationFailed, code="weak_password", title="Password too weak"): ...


class ConsoleRefused(
    Forbidden, title="This account cannot use the console", reason="console_role_refused"
):
    """The console signs in administrators, auditors and merchant staff only."""


class CsrfFailed(Forbidden, title="Missing or wrong CSRF token", reason="csrf_failed"):
    """A request authenticated by the console's cookie came without its CSRF token."""
