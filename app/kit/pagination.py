"""Keyset pagination: one cursor codec and one page shape for every list.

A cursor is the sort key of the last row of a page, as a JSON array in unpadded base64url.
Clients treat it as opaque, but nothing stops them from sending anything, so decoding checks
arity, types and ranges against the columns the list is ordered by, and every failure is the
same 400 ``bad_request`` with ``reason: invalid_cursor``; a bad cursor never reaches SQL.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, TypeDecorator, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from app.kit.errors import BadRequest
from app.kit.inputs import unstorable

T = TypeVar("T")
Q = TypeVar("Q", bound=tuple[Any, ...])

MAX_CURSOR_CHARS = 200
# Sort keys are 64-bit integers (sequences) and short strings (ids); anything larger cannot
# have come from us, and a value outside BIGINT would fail in the database instead.
_INT_RANGE = (-(2**63), 2**63 - 1)
_MAX_TEXT = 128

CursorParam = Annotated[
    str | None,
    Query(max_length=MAX_CURSOR_CHARS, description="next_cursor of the previous page"),
]
LimitParam = Annotated[int, Query(ge=1, le=200, description="Items per page")]


class InvalidCursor(BadRequest, reason="invalid_cursor"): ...


class Page(BaseModel, Generic[T]):
    """``{"items": [...], "next_cursor": ...}``: the shape of every list."""

    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null at the end"
    )


def encode_cursor(*values: int | str | datetime) -> str:
    plain = [v.astimezone(UTC).isoformat() if isinstance(v, datetime) else v for v in values]
    raw = json.dumps(plain, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _read(value: Any, kind: type) -> Any:
    """One cursor value as ``kind``, or ValueError."""
    if kind is int:
        if type(value) is not int or not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
            raise ValueError("not a 64-bit integer")
        return value
    if not isinstance(value, str) or len(value) > _MAX_TEXT or unstorable(value):
        raise ValueError("not a short string")
    if kind is str:
        return value
    if kind is datetime:
        at = datetime.fromisoformat(value)
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("a time without an offset")
        return at.astimezone(UTC)  # OverflowError at the ends of the calendar
    raise TypeError(f"no cursor encoding for {kind!r}")


def decode_cursor(cursor: str | None, *kinds: type) -> tuple[Any, ...] | None:
    """The values of ``cursor``, one per kind (int, str or datetime); None for no cursor."""
    if not cursor:
        return None
    try:
        if len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError("too long")
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError("wrong arity")
        return tuple(_read(v, k) for v, k in zip(values, kinds, strict=True))
    except (ValueError, OverflowError, RecursionError, binascii.Error) as exc:
        raise InvalidCursor("The cursor is not valid; start again without one.") from exc


@dataclass(frozen=True)
class Keyset:
    """A list's order: columns compared left to right, all descending or all ascending.
    The last column must make the order total (an id or a sequence)."""

    columns: tuple[InstrumentedAttribute[Any], ...]
    descending: bool = True

    @cached_property
    def kinds(self) -> tuple[type, ...]:
        """What each cursor value must be: the Python type of its column."""
        out = []
        for column in self.columns:
            sql_type = column.type
            if isinstance(sql_type, TypeDecorator):
                sql_type = sql_type.impl_instance
            out.append(sql_type.python_type)
        return tuple(out)

    def apply(self, query: Select[Q], cursor: str | None, limit: int) -> Select[Q]:
        """Rows after ``cursor`` in this order, one more than a page so that ``page`` can
        tell whether another follows."""
        after = decode_cursor(cursor, *self.kinds)
        if after is not None:
            query = query.where(self._after(after))
        order = [c.desc() if self.descending else c.asc() for c in self.columns]
        return query.order_by(*order).limit(limit + 1)

    def _after(self, values: tuple[Any, ...]) -> Any:
        # (a, b) < (x, y)  ⇔  a < x  or  (a = x and b < y), written out because SQLite and
        # PostgreSQL compare row values differently with NULLs and types.
        clauses = []
        for i, column in enumerate(self.columns):
            beyond = column < values[i] if self.descending else column > values[i]
            equal = [self.columns[j] == values[j] for j in range(i)]
            clauses.append(and_(*equal, beyond))
        return or_(*clauses)

    def page(
        self, rows: Sequence[Any], limit: int, row: Callable[[Any], Any] = lambda r: r
    ) -> tuple[list[Any], str | None]:
        """This page's rows and the cursor after its last one (None at the end). ``row``
        picks the mapped object out of a result row that selects several."""
        items = list(rows[:limit])
        if len(rows) <= limit:
            return items, None
        last = row(items[-1])
        return items, encode_cursor(*(getattr(last, c.key) for c in self.columns))
