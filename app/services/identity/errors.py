"""Identity's own errors: registration, passwords. Generic ones are in ``app.kit.errors``."""

from __future__ import annotations

from app.kit.errors import Conflict, Forbidden, ValidationFailed


class EmailTaken(Conflict):
    code, title = "email_taken", "Email already registered"


class WeakPassword(ValidationFailed):
    code, title = "weak_password", "Password too weak"


class ConsoleRefused(Forbidden):
    """The console signs in administrators, auditors and merchant staff only."""

    title = "This account cannot use the console"
    reason = "console_role_refused"


class CsrfFailed(Forbidden):
    """A request authenticated by the console's cookie came without its CSRF token."""

    title = "Missing or wrong CSRF token"
    reason = "csrf_failed"
