"""All tables. Importing this package registers every model on ``Base.metadata``."""

from app.models.admin import AuditEntry
from app.models.communities import (
    Donation,
    MemberCode,
    Membership,
    Organisation,
    OrganisationCredit,
    OrganisationDaily,
    Product,
    Project,
    Purchase,
)
from app.models.identity import RefreshToken, RevokedToken, User
from app.models.ledger import (
    Account,
    AccountSummary,
    Hold,
    LedgerCheckpoint,
    LedgerEntry,
    LedgerTransaction,
    LotDraw,
    PointLot,
)
from app.models.methodologies import MethodologyVersion
from app.models.partners import Partner, PartnerNonce, UserLink
from app.models.records import DailyUsage, Record
from app.models.rewards import Incentive, Merchant, Redemption
from app.models.trust import AuditRun, BatchRecord, BatchSeries, ReductionBatch

__all__ = [
    "Donation",
    "MemberCode",
    "Membership",
    "Organisation",
    "OrganisationCredit",
    "OrganisationDaily",
    "Product",
    "Project",
    "Purchase",
    "Account",
    "AccountSummary",
    "AuditEntry",
    "AuditRun",
    "BatchRecord",
    "BatchSeries",
    "DailyUsage",
    "Hold",
    "Incentive",
    "LedgerCheckpoint",
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
    "ReductionBatch",
    "RefreshToken",
    "RevokedToken",
    "User",
    "UserLink",
]
