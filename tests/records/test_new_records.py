"""A record decided in a unit of work is a plain row (``NewRecord``), inserted in bulk with every
column of the ``records`` table read off it. The two lists are written twice, so they are
compared here: a column the row lacks would fail every ingest, and one it has beyond the table,
or with another optionality, would be a field that is never stored as it reads."""

from __future__ import annotations

from dataclasses import fields

from app.models import Record
from app.services.records.prepared import NewRecord


def test_a_new_record_has_exactly_the_tables_columns_with_the_same_optionality():
    table = Record.__table__
    assert sorted(f.name for f in fields(NewRecord)) == sorted(c.key for c in table.columns)
    optional = {f.name for f in fields(NewRecord) if "None" in str(f.type)}
    assert optional == {c.key for c in table.columns if c.nullable}
