"""Ids sort in creation order, also when many are made in the same millisecond."""

from __future__ import annotations

import re

from engine.ids import new_id


def test_ids_are_unique_sortable_and_ulid_shaped() -> None:
    ids = [new_id("t") for _ in range(5000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"t_[0-9a-hjkmnp-tv-z]{26}", i) for i in ids)
