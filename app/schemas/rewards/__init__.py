"""Merchants, their incentives and redemption codes over HTTP, by sub-domain: ``merchants``
(and their counter staff), ``incentives`` (as the merchant manages them and as the catalogue
shows them), ``redemptions`` (a citizen's codes and the till's view). Every name is importable
from here."""

from __future__ import annotations

from app.models.rewards import RedemptionStatus  # the statuses the redemption bodies carry
from app.schemas.rewards.incentives import (
    INCENTIVE_EXAMPLE,
    IncentiveIn,
    IncentiveOut,
    IncentivePatch,
    IncentivesPage,
    MerchantIncentiveIn,
    PublicIncentiveOut,
    PublicIncentivesPage,
)
from app.schemas.rewards.merchants import (
    MerchantIn,
    MerchantOut,
    MerchantPatch,
    MerchantsPage,
    StaffIn,
    StaffOut,
)
from app.schemas.rewards.redemptions import (
    MerchantRedemptionLookupOut,
    MerchantRedemptionOut,
    MerchantRedemptionsPage,
    RedemptionIn,
    RedemptionOut,
    RedemptionsPage,
    RedemptionTotals,
    VerifyIn,
)

__all__ = [
    "INCENTIVE_EXAMPLE",
    "IncentiveIn",
    "IncentiveOut",
    "IncentivePatch",
    "IncentivesPage",
    "MerchantIn",
    "MerchantIncentiveIn",
    "MerchantOut",
    "MerchantPatch",
    "MerchantRedemptionLookupOut",
    "MerchantRedemptionOut",
    "MerchantRedemptionsPage",
    "MerchantsPage",
    "PublicIncentiveOut",
    "PublicIncentivesPage",
    "RedemptionIn",
    "RedemptionOut",
    "RedemptionStatus",
    "RedemptionTotals",
    "RedemptionsPage",
    "StaffIn",
    "StaffOut",
    "VerifyIn",
]
