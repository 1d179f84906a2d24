from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.kit.pagination import Page
from app.models.ledger import TransactionKind


class Expiring(BaseModel):
    points: int
    expires_at: datetime


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
                }
            ]
        }
    )

    id: str = Field(description="Ledger transaction id")
    kind: TransactionKind
    points: int = Field(description="Signed change of the spendable balance")
    balance_after: int
    created_at: datetime
    ref: str
    cause_type: str
    cause_id: str | None


class LinesPage(Page[LineOut]):
    """The caller's ledger lines, newest first."""


class LedgerCheckOut(BaseModel):
    ok: bool
    accounts_checked: int
    transactions_checked: int
    mismatch_count: int
    mismatches: list[dict]


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
    created_at: datetime


CheckpointsPage = Page[CheckpointOut]
