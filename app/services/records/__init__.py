"""Behaviour records: what a citizen did, verified, quantified and credited.

The API calls a record an "event" (``POST /v1/events``, ``client_event_id``); the code calls it
a record everywhere else. ``intake`` takes records in (one or a batch), ``group_commit`` decides
concurrent single records together, ``decisions`` holds administrators' review and clawback,
``views`` shows them to their owner, ``leaderboards`` ranks credited reductions."""

from app.services.records.errors import AlreadyReversed

__all__ = ["AlreadyReversed"]
