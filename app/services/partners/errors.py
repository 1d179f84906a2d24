"""Partners' own errors. Generic ones are in ``app.kit.errors``."""

from __future__ import annotations

from app.kit.errors import Forbidden, NotFound


class TypeNotAllowed(
    Forbidden, code="type_not_allowed", title="Methodology not allowed for this partner"
): ...


class UnknownUser(NotFound, code="unknown_user", title="Unknown user_ref"): ...
