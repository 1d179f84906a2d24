"""Rewards' own errors: incentives, stock, redemption codes. Generic ones are in
``app.kit.errors``."""

from __future__ import annotations

from app.kit.errors import Conflict


class OutOfStock(Conflict, code="out_of_stock", title="Out of stock"): ...


class LimitReached(Conflict, code="limit_reached", title="Per-user limit reached"): ...


class IncentiveInactive(Conflict, code="incentive_inactive", title="Incentive not active"): ...


class AlreadyFulfilled(Conflict, code="already_fulfilled", title="Code already used"): ...


class CodeCancelled(Conflict, code="cancelled", title="Code cancelled"): ...


class CodeExpired(Conflict, code="expired", title="Code expired"): ...
