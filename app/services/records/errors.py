"""Records' own errors. Generic ones are in ``app.kit.errors``."""

from __future__ import annotations

from app.kit.errors import Conflict


class AlreadyReversed(Conflict, code="already_reversed", title="Already reversed"): ...
