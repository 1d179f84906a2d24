"""Rewards: ``merchants`` and their staff, ``incentives`` they publish, ``redemptions`` backed
by ledger holds, the redemption ``codes``, and the development ``demo`` seed."""

from app.services.rewards.errors import (
    AlreadyFulfilled,
    CodeCancelled,
    CodeExpired,
    IncentiveInactive,
    LimitReached,
    OutOfStock,
)

__all__ = [
    "AlreadyFulfilled",
    "CodeCancelled",
    "CodeExpired",
    "IncentiveInactive",
    "LimitReached",
    "OutOfStock",
]
