"""Every scheme in examples/ works against the test site: it validates, runs to `completed`
without failed pages or warnings (but its own limits), and extracts items; its start URL
previews."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.site.fixture import TestSite
from tests.support.server import Server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PLACEHOLDER = "http://127.0.0.1:8000"


def test_there_are_examples() -> None:
    assert len(list(EXAMPLES.glob("*.json"))) >= 3


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_example_runs_against_the_test_site(api: Server, site: TestSite, name: str) -> None:
    text = (EXAMPLES / name).read_text("utf-8")
    assert PLACEHOLDER in text
    scheme = json.loads(text.replace(PLACEHOLDER, site.url.rstrip("/")))
    task = api.wait_status(api.create(scheme, name=name)["id"], "completed", timeout=120)
    assert task["items"] > 0 and task["failures"] == {}, task
    # A limit the example sets on purpose may be reached; nothing else deserves a warning.
    assert all(w.startswith("limits.") for w in task["warnings"]), task["warnings"]
    preview = api.ok("POST", "/v1/preview", {"scheme": scheme, "url": scheme["start_urls"][0]})
    assert preview["download"]["IsSuccess"] is True
    if name == "quotes.json":
        items = [json.loads(line) for line in api.call(
            "GET", f"/v1/tasks/{task['id']}/store?format=jsonl").body.splitlines()]
        assert all(i["about"]["born"] for i in items)
