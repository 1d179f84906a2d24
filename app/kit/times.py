"""Instants in bodies and query strings: RFC 3339 in, UTC with ``Z`` out.

Pydantic's own ``datetime`` also takes unix seconds (``1700000000``, as a number or as a
string) and answers in whatever offset the value had, with as many fractional digits as it
happened to have. The document says ``format: date-time``, so a request may give exactly that
(an RFC 3339 date-time with its offset), and every response gives the instant in UTC with
``Z`` and always six fractional digits, whatever the database returned.

List and report filters also take a plain date: the whole local day in the platform's time
zone, from its first instant (``from``) or up to the next day's (``to``).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator, PlainSerializer, WithJsonSchema

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MESSAGE = "must be an RFC 3339 date-time with an offset, such as 2026-11-23T08:30:00+08:00"


def _rfc3339_only(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _RFC3339.fullmatch(value):
        # Nanoseconds are valid RFC 3339; the database keeps microseconds.
        head, _, rest = value.partition(".")
        if rest and len(digits := re.match(r"\d+", rest).group()) > 6:  # type: ignore[union-attr]
            value = f"{head}.{digits[:6]}{rest[len(digits) :]}"
        return value
    raise ValueError(MESSAGE)


@lru_cache(maxsize=4096)
def utc_text(value: datetime) -> str:
    """An instant as ``2026-11-23T00:30:00.000000Z``; a naive value (SQLite) is UTC already.
    Remembered: a unit of work writes the same few instants many times (its own time in every
    row, a record's time in its hash and in its answer)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    # isoformat, not strftime: "%Y" does not pad years before 1000 to four digits.
    return aware.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def instants_as_text(value: Any) -> Any:
    """A JSON-like value with every datetime in it as ``utc_text`` (free-form documents such
    as the personal-data export, whose rows are dicts)."""
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, dict):
        return {k: instants_as_text(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [instants_as_text(v) for v in value]
    return value


_DATE_TIME_SCHEMA = {"type": "string", "format": "date-time"}

Instant = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339_only),
    PlainSerializer(utc_text, return_type=str, when_used="json"),
    WithJsonSchema(_DATE_TIME_SCHEMA),
]


def _day_or_instant(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value
    if isinstance(value, str) and _DATE.fullmatch(value):
        return date.fromisoformat(value)
    return _rfc3339_only(value)


DayOrInstant = Annotated[
    date | AwareDatetime,
    BeforeValidator(_day_or_instant),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "format": "date"}, _DATE_TIME_SCHEMA],
            "description": "An RFC 3339 date-time, or a date: that local day in the platform's "
            "time zone",
        }
    ),
]


def range_start(value: date | datetime, tz: tzinfo) -> datetime:
    """A ``from`` filter: a date means the first instant of that local day."""
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time.min, tzinfo=tz)


def range_end(value: date | datetime, tz: tzinfo) -> datetime:
    """A ``to`` filter (exclusive): a date means the whole of that local day."""
    if isinstance(value, datetime):
        return value
    return datetime.combine(value + timedelta(days=1), time.min, tzinfo=tz)
