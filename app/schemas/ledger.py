from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, computed_field

from app.i18n import translate
from app.kit.pagination import Page
from app.kit.times import Instant
from app.models.ledger import CauseType, MismatchKind, TransactionKind

# A reversal and a debt repayment name the record whose credit they follow.
_FROM_RECORD = (CauseType.RECORD, CauseType.REVERSAL)

LINE_DESCRIPTIONS: dict[str, str] = {
    TransactionKind.CREDIT: "Points for a verified low-carbon record",
    TransactionKind.DEBT_REPAYMENT: "Points that repaid what was owed after a clawback",
    TransactionKind.HOLD: "Points held for a redemption code",
    TransactionKind.SETTLE: "Redemption code used at the merchant",
    TransactionKind.RELEASE: "Points returned from a redemption code",
    TransactionKind.REVERSAL: "Points taken back: a record was reversed",
    TransactionKind.EXPIRY: "Points expired",
    TransactionKind.DONATION: "Points donated to a public-good project",
}


class Expiring(BaseModel):
    points: int
    expires_at: Instant


class AccountOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "balance": 1234,
                    "held": 300,
                    "debt": 0,
                    "lifetime_points": 2034,
                    "lifetime_reduction_g": 2150,
                    "expiring": [{"points": 467, "expires_at": "2027-11-23T00:30:00+00:00"}],
                }
            ]
        }
    )

    balance: int = Field(description="Spendable points")
    held: int = Field(description="Points held by issued redemption codes")
    debt: int = Field(0, description="Points owed after a clawback; repaid from new credits")
    lifetime_points: int
    lifetime_reduction_g: int = Field(description="Verified reduction credited, g CO2e")
    expiring: list[Expiring] = Field(description="The next amounts to expire, soonest first")


class LineOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "6d1f…",
                    "kind": "credit",
                    "points": 467,
                    "balance_after": 1234,
                    "created_at": "2026-11-23T00:31:02+00:00",
                    "ref": "record:0b6e…:credit",
                    "cause_type": "record",
                    "cause_id": "0b6e…",
                    "description": "Points for a verified low-carbon record",
                    "record_id": "0b6e…",
                    "redemption_id": None,
                }
            ]
        }
    )

    id: str = Field(description="Ledger transaction id")
    kind: TransactionKind
    points: int = Field(description="Signed change of the spendable balance")
    balance_after: int
    created_at: Instant
    ref: str
    cause_type: CauseType
    cause_id: str | None

    @computed_field(description="What happened, in the language of the request")  # type: ignore[prop-decorator]
    @property
    def description(self) -> str:
        return translate(LINE_DESCRIPTIONS.get(self.kind, "Points moved"))

    @computed_field(description="The record it comes from, if one")  # type: ignore[prop-decorator]
    @property
    def record_id(self) -> str | None:
        return self.cause_id if self.cause_type in _FROM_RECORD else None

    @computed_field(description="The redemption it comes from, if one")  # type: ignore[prop-decorator]
    @property
    def redemption_id(self) -> str | None:
        return self.cause_id if self.cause_type == CauseType.REDEMPTION else None


class LinesPage(Page[LineOut]):
    """The caller's ledger lines, newest first."""


class StatsItem(BaseModel):
    period: str = Field(description="YYYY-MM-DD or YYYY-MM, in the platform time zone")
    methodology: str
    reduction_g: int
    points: int
    records: int


class StatsOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "period": "2026-11",
                            "methodology": "cycling",
                            "reduction_g": 1240,
                            "points": 1240,
                            "records": 9,
                        }
                    ]
                }
            ]
        }
    )

    items: list[StatsItem] = Field(description="By period, then methodology")


class LedgerMismatch(BaseModel):
    """One difference found by the check. ``kind`` says what; the fields it names are set,
    the others absent: an account's balance (``account``, ``stored`` and
    ``sum_of_entries``, ``balance_after``), a transaction (``transaction``, ``sum``,
    ``entries``), a citizen's lots, holds or summary (``user`` with ``lots`` and
    ``available``, ``open_holds`` and ``held``, or ``field``, ``stored`` and ``expected``), a
    lot (``lot``, ``amount``, ``remaining``, ``drawn``), a project (``project``, ``balance``,
    ``donations``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "balance_differs_from_entries",
                    "account": "user:0b6e…:available",
                    "stored": 1234,
                    "sum_of_entries": 1200,
                }
            ]
        }
    )

    kind: MismatchKind
    account: str | None = None
    transaction: str | None = None
    user: str | None = None
    lot: str | None = None
    project: str | None = None
    field: str | None = Field(default=None, description="The summary field that differs")
    stored: int | None = None
    sum_of_entries: int | None = None
    balance_after: int | None = None
    sum: int | None = None
    entries: int | None = None
    lots: int | None = None
    available: int | None = None
    open_holds: int | None = None
    held: int | None = None
    amount: int | None = None
    remaining: int | None = None
    drawn: int | None = None
    expected: int | None = None
    balance: int | None = None
    donations: int | None = None


class LedgerCheckOut(BaseModel):
    ok: bool
    accounts_checked: int
    transactions_checked: int
    mismatch_count: int
    mismatches: list[LedgerMismatch] = Field(description="The first 100 differences")


class CheckpointOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "seq_from": 1,
                    "seq_to": 1840,
                    "count": 1838,
                    "merkle_root": "5f1c…",
                    "prev_root": None,
                    "root": "9a0e…",
                    "created_at": "2026-11-25T17:00:00+00:00",
                }
            ]
        },
    )

    seq_from: int
    seq_to: int
    count: int = Field(description="Transactions in the range (seq may have gaps)")
    merkle_root: str = Field(description="Merkle root of the transaction hashes, in seq order")
    prev_root: str | None = Field(description="The previous checkpoint's root; null for the first")
    root: str = Field(description="SHA-256 over prev_root, the range, the count and merkle_root")
    created_at: Instant


CheckpointsPage = Page[CheckpointOut]
