"""Trust's own errors. Generic ones are in ``app.kit.errors``."""

from __future__ import annotations

from app.kit.errors import Conflict


class NothingToIssue(
    Conflict, code="nothing_to_issue", title="Not enough verified reductions for a tonne"
): ...


class BatchFinal(
    Conflict, code="batch_final", title="The batch was already retired or transferred"
): ...
