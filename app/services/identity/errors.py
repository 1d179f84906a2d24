"""Identity's own errors: registration, passwords. Generic ones are in ``app.kit.errors``."""

from __future__ import annotations

from app.kit.errors import Conflict, ValidationFailed


class EmailTaken(Conflict):
    code, title = "email_taken", "Email already registered"


class WeakPassword(ValidationFailed):
    code, title = "weak_password", "Password too weak"
