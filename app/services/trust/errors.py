"""Trust's own errors. Generic ones are in ``app.kit.errors``."""

from __future__ import annotations

from app.kit.errors import Conflict


class NothingToIssue(Conflict):
    code, title = "nothing_to_issue", "Not enough verified reductions for a tonne"


class BatchFinal(Conflict):
    code, title = "batch_final", "The batch was already retired or transferred"
