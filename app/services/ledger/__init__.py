"""The points ledger: the only code that writes ledger rows, lots, holds and summaries.

Double entry and append-only: every transaction has two or more entries summing to zero, and
an account's stored balance changes only with an entry, in the same database transaction, so
the stored balance always equals the sum of its entries (``check`` proves it). Every
transaction carries a unique ``ref``: posting the same ref again returns the first
transaction and posts nothing.

- ``accounts``: account ids, and the locks (one ordered ``SELECT … FOR UPDATE``; the lock
  order is in its docstring);
- ``postings``: the one posting path, which every operation below goes through and which
  refuses (``LedgerInvariantError``) anything that would break the ledger's rules;
- ``credits``: single and bulk credits, debt repayment, clawback;
- ``holds``: hold, settle, release;
- ``lots``: expiry lots, drawing from them, expiring them;
- ``donations``: points given to a public-good project;
- ``queries`` and ``check``: reads, and the proof that stored state matches the entries.
"""

from app.services.ledger.accounts import (
    PLATFORM_SHARDS,
    available_account,
    debt_account,
    held_account,
    lock_user,
    lock_users,
    merchant_account,
    open_accounts,
    platform_account,
    platform_shards,
    project_account,
    user_accounts,
)
from app.services.ledger.credits import Credit, credit, credit_many, reverse
from app.services.ledger.donations import donate
from app.services.ledger.errors import InsufficientPoints, LedgerInvariantError
from app.services.ledger.holds import HeldPoints, hold, release, settle
from app.services.ledger.lots import count_due_lots, due_lots, expire_lot
from app.services.ledger.postings import Posted
from app.services.ledger.queries import Balances, Summary, balances, spendable, summary

__all__ = [
    "PLATFORM_SHARDS",
    "Balances",
    "Credit",
    "HeldPoints",
    "InsufficientPoints",
    "LedgerInvariantError",
    "Posted",
    "Summary",
    "available_account",
    "balances",
    "count_due_lots",
    "credit",
    "credit_many",
    "debt_account",
    "donate",
    "due_lots",
    "expire_lot",
    "held_account",
    "hold",
    "lock_user",
    "lock_users",
    "merchant_account",
    "open_accounts",
    "platform_account",
    "project_account",
    "platform_shards",
    "release",
    "reverse",
    "settle",
    "spendable",
    "summary",
    "user_accounts",
]
