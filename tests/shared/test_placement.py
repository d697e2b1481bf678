"""Where the launcher puts a small run (control_api/launchers/shared.py `pick`), and which
runs are small (engine/small.py)."""

from __future__ import annotations

from control_api.launchers.shared import pick
from engine.small import is_small

ONE_PAGE = {"start_urls": ["http://example.test/a"], "item": {"fields": [{"name": "t"}]}}


def test_runs_spread_over_free_slots_then_fill_the_least_loaded() -> None:
    assert pick([], [], slots=2) == 0  # none yet: a new one
    assert pick([9], [1], slots=1) == 1  # each has a run and a slot is free: a new one
    assert pick([10], [0], slots=1) == 0  # an idle one takes it before a new one is started
    assert pick([7, 9], [3, 1], slots=0) == 1  # no slot: the one with the fewest runs
    assert pick([0, 0], [10, 10], slots=0) == -1  # full, no slot: nowhere (it stays queued)
    assert pick([0, 3], [10, 1], slots=0) == 1  # (a full or draining one takes none)


def test_only_start_url_runs_in_one_process_are_small() -> None:
    assert is_small(ONE_PAGE)
    assert not is_small(ONE_PAGE, kind="job")
    assert not is_small({**ONE_PAGE, "start_urls": []})
    assert not is_small({**ONE_PAGE, "start_urls": [f"http://example.test/{i}" for i in range(11)]})
    for key, value in (("follow", [{"selector": "CSS: a"}]), ("paginate", {"selector": "CSS: a"}),
                       ("sitemap_urls", ["http://example.test/s.xml"]),
                       ("login", {"url": "http://example.test/login"}),
                       ("render", {"wait_for": "CSS: body"}), ("processes", 2),
                       ("proxy", {"use": True})):
        assert not is_small({**ONE_PAGE, key: value}), key
    detail = {"start_urls": ONE_PAGE["start_urls"], "item": {"fields": [
        {"name": "t", "follow": {"fields": [{"name": "x"}]}}]}}
    assert not is_small(detail)
