"""Rewards' own errors: incentives, stock, redemption codes. Generic ones are in
``app.kit.errors``."""

from __future__ import annotations

from app.kit.errors import Conflict


class OutOfStock(Conflict):
    code, title = "out_of_stock", "Out of stock"


class LimitReached(Conflict):
    code, title = "limit_reached", "Per-user limit reached"


class IncentiveInactive(Conflict):
    code, title = "incentive_inactive", "Incentive not active"


class AlreadyFulfilled(Conflict):
    code, title = "already_fulfilled", "Code already used"


class CodeCancelled(Conflict):
    code, title = "cancelled", "Code cancelled"


class CodeExpired(Conflict):
    code, title = "expired", "Code expired"
