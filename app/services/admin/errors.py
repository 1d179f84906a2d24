"""Administration's own errors. Generic ones are in ``app.kit.errors``."""

from __future__ import annotations

from app.kit.errors import Conflict


class SelfChangeRefused(
    Conflict, code="self_change_refused", title="Administrators cannot demote or disable themselves"
): ...
