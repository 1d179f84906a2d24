"""The ledger's errors. Generic ones are in ``app.kit.errors``."""

from __future__ import annotations

from app.kit.errors import Conflict


class InsufficientPoints(Conflict, code="insufficient_points", title="Not enough points"): ...


class LedgerInvariantError(RuntimeError):
    """A posting would break the ledger's rules. Always a bug: nothing is written."""
