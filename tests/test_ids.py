"""Row ids: UUID version 7, ordered by the time they were made."""

from __future__ import annotations

import time
import uuid

from app.db import new_id


def test_ids_are_uuid_version_7_with_the_rfc_variant() -> None:
    for _ in range(1000):
        u = uuid.UUID(new_id())
        assert u.version == 7
        assert u.variant == uuid.RFC_4122


def test_an_id_carries_the_millisecond_it_was_made() -> None:
    before = time.time_ns() // 1_000_000
    u = uuid.UUID(new_id())
    after = time.time_ns() // 1_000_000
    assert before <= u.int >> 80 <= after


def test_ids_made_later_sort_after_earlier_ones() -> None:
    first = new_id()
    time.sleep(0.002)
    second = new_id()
    assert first < second  # as text too: the column is a string


def test_ids_do_not_repeat() -> None:
    ids = [new_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
