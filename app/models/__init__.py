"""All tables. Importing this package registers every model on ``Base.metadata``."""

from app.models.audit import AuditEntry
from app.models.auth import RefreshToken, RevokedToken
from app.models.ledger import (
    Account,
    AccountSummary,
    Hold,
    LedgerEntry,
    LedgerTransaction,
    LotDraw,
    PointLot,
)
from app.models.merchants import Incentive, Merchant, Redemption
from app.models.partners import Partner, PartnerNonce, UserLink
from app.models.records import DailyUsage, MethodologyVersion, Record
from app.models.users import User

__all__ = [
    "Account",
    "AccountSummary",
    "AuditEntry",
    "DailyUsage",
    "Hold",
    "Incentive",
    "LedgerEntry",
    "LedgerTransaction",
    "LotDraw",
    "Merchant",
    "MethodologyVersion",
    "Partner",
    "PartnerNonce",
    "PointLot",
    "Record",
    "Redemption",
    "RefreshToken",
    "RevokedToken",
    "User",
    "UserLink",
]
