"""Partners' own errors. Generic ones are in ``app.kit.errors``."""

from __future__ import annotations

from app.kit.errors import Forbidden, NotFound


class TypeNotAllowed(Forbidden):
    code, title = "type_not_allowed", "Methodology not allowed for this partner"


class UnknownUser(NotFound):
    code, title = "unknown_user", "Unknown user_ref"
