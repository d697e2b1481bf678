"""The console in real headless Chromium: log in, see a field-path error, preview a URL,
create a task from the editor, watch it complete, open a page's DownloadInfo timeline,
download a CSV, delete. Every page must load without a console error (a CSP violation
would be one)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.api.conftest import gen_scheme
from tests.console.browser import Shots, browser
from tests.site.fixture import TestSite
from tests.support.server import Server

__all__ = ["browser"]
TIMEOUT_MS = 60_000


@pytest.fixture
def page(browser: Any, api: Server) -> Iterator[Any]:
    context = browser.new_context(base_url=api.url, accept_downloads=True,
                                  viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(f"{m.text} {m.location.get('url')}")
           if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.errors = errors
    yield tab
    context.close()


def unexpected(errors: list[str]) -> list[str]:
    """Console errors, less the 404s of endpoints other branches add (events, stats, log):
    the console asks for them and hides their panels when they are missing; and the 422 the
    test provokes on purpose."""
    expected = re.compile(r"status of 404 .* \S+/v1/tasks/[^/]+/(events|stats|log)\b"
                          r"|status of 422 .* \S+/v1/tasks$")
    return [e for e in errors if not expected.search(e)]


def log_in(page: Any, api: Server) -> None:
    page.goto("/")
    page.wait_for_url(re.compile(r"/console/login\?next="))
    page.get_by_label("API key").fill(api.keys["alice"])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/\?|/$"))


def editor_scheme(site: TestSite) -> dict[str, Any]:
    return {
        "start_urls": [site.abs("/quotes/")],  # a 302 to /quotes/page/1/: a redirect hop
        "item": {"selector": "CSS: div.quote", "fields": [
            {"name": "text", "selector": "CSS: span.text"},
            {"name": "author", "selector": "CSS: small.author"},
            {"name": "tags", "selector": "CSS: a.tag", "many": True}]},
        "paginate": {"selector": "CSS: li.next a"},
        "formats": ["csv", "jsonl"],
        "politeness": {"obey_robots": False},
    }


def test_console_end_to_end(page: Any, api: Server, site: TestSite, tmp_path: Path) -> None:
    shot = Shots(page, tmp_path, "console")
    page.goto("/console/login")
    shot("login")
    log_in(page, api)
    page.get_by_role("link", name="New task").click()
    page.wait_for_url("**/console/new")

    # A field-path error from the server, next to the editor.
    bad = editor_scheme(site)
    bad["item"]["fields"][0]["selector"] = "CSS: [["
    bad["colour"] = "blue"
    page.get_by_label("Scheme", exact=True).fill(json.dumps(bad, indent=2))
    page.get_by_role("button", name="Create task").click()
    errors = page.get_by_role("list", name="Scheme errors")
    errors.locator('[data-path="scheme.item.fields[0].selector"]').wait_for()
    assert "scheme.colour" in errors.inner_text()
    assert "unknown key" in errors.inner_text()
    assert "line 10" in errors.locator('[data-path="scheme.item.fields[0].selector"]').inner_text()
    assert page.get_by_label("Scheme", exact=True).get_attribute("aria-invalid") == "true"
    shot("field-path-error")

    # Preview one URL before creating anything.
    page.get_by_label("Scheme", exact=True).fill(json.dumps(editor_scheme(site), indent=2))
    page.get_by_label("Preview URL").fill(site.abs("/quotes/page/2/"))
    page.get_by_role("button", name="Preview").click()
    table = page.get_by_role("table", name="Preview items")
    table.locator("tbody tr").nth(9).wait_for()
    assert table.locator("tbody tr").count() == 10
    assert "/quotes/page/3/" in page.locator("#preview-links").inner_text()
    assert "200 OK" in page.get_by_role("list", name="Preview timeline").inner_text()
    assert page.locator("#scheme-errors li").count() == 0
    shot("preview")

    # Create it and watch it complete.
    page.get_by_label("Name", exact=True).fill("quotes from the console")
    page.get_by_role("button", name="Create task").click()
    page.wait_for_url(re.compile(r"/console/tasks/t_"))
    task_id = page.url.rsplit("/", 1)[1]
    page.locator("#status.completed").wait_for()
    page.get_by_role("table", name="Items").locator("tbody tr").first.wait_for()
    assert page.get_by_role("progressbar", name="Progress").get_attribute("aria-valuenow") == "100"
    assert "quotes from the console" in page.locator("h1").inner_text()
    # Stats and the log tail (the observe branch's endpoints) are shown once they exist.
    expect(page.locator("#stats-panel")).to_be_visible()
    expect(page.locator("#stats")).to_contain_text('"status_codes"')
    expect(page.locator("#log-panel")).to_be_visible()
    expect(page.locator("#log")).to_contain_text("Scrapy")
    shot("task-completed")

    # The first page's DownloadInfo: the redirect hop, then the page.
    page.get_by_role("button", name=f"Timeline of {site.abs('/quotes/')}", exact=True).click()
    timeline = page.get_by_role("list", name="DownloadInfo timeline")
    timeline.get_by_role("listitem").nth(1).wait_for()
    text = timeline.inner_text()
    assert "302" in text and "redirect" in text and "200 OK" in text
    widths = page.eval_on_selector_all("#timeline .bar.ok",
                                       "bars => bars.map(b => b.getBoundingClientRect().width)")
    assert len(widths) == 1 and widths[0] > 0
    page.locator("#timeline-panel").scroll_into_view_if_needed()
    shot("timeline", full_page=False)

    # Download the CSV.
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    csv_path = tmp_path / "out.csv"
    download.value.save_as(csv_path)
    lines = csv_path.read_text("utf-8").splitlines()
    assert lines[0].split(",")[:3] == ["text", "author", "tags"] and len(lines) == 51

    # The tasks list shows it; then delete, confirmed.
    page.get_by_role("link", name="Tasks", exact=True).click()
    page.get_by_role("link", name="quotes from the console").wait_for()
    shot("tasks")
    page.goto(f"/console/tasks/{task_id}")
    page.locator("#status.completed").wait_for()
    page.get_by_role("table", name="Items").locator("tbody tr").first.wait_for()
    page.get_by_role("table", name="Webhook deliveries").locator("tbody tr").first.wait_for()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url(re.compile(r"/\?deleted="))
    assert api.call("GET", f"/v1/tasks/{task_id}").status == 404
    assert unexpected(page.errors) == []


def test_console_filters_and_docs(page: Any, api: Server, site: TestSite, tmp_path: Path) -> None:
    shot = Shots(page, tmp_path, "console")
    scheme = {**editor_scheme(site), "start_urls": [site.abs("/quotes/page/1/")]}
    api.create(scheme, name="tagged", tag="nightly", run=False)
    api.create(scheme, name="untagged", run=False)
    log_in(page, api)
    page.get_by_label("Tag", exact=True).fill("nightly")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"tag=nightly"))
    table = page.get_by_role("table", name="Tasks")
    expect(table).not_to_contain_text("untagged")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("nightly")
    page.get_by_role("link", name="API reference").click()
    page.locator(".swagger-ui .opblock").first.wait_for()
    page.locator(".opblock-summary-path", has_text="/v1/preview").first.wait_for()
    shot("docs")
    assert unexpected(page.errors) == []


def test_console_pause_and_resume(page: Any, api: Server, site: TestSite,
                                  tmp_path: Path) -> None:
    # A slow crawl (60 pages, 0.1 s apart): paused from the console while it runs, resumed from
    # the console, and it still completes with every page.
    task = api.create(gen_scheme(site, delay=0.1, concurrency=1, max_pages=60))
    api.wait(task["id"], lambda t: t["status"] == "running" and t["pages"] >= 2)
    shot = Shots(page, tmp_path, "console")
    log_in(page, api)
    page.goto(f"/console/tasks/{task['id']}")
    pause = page.get_by_role("button", name="Pause")
    expect(pause).to_be_enabled()
    pause.click()
    expect(page.locator("#status")).to_have_text("paused")
    assert api.task(task["id"])["status"] == "paused"
    shot("paused", full_page=False)
    resume = page.get_by_role("button", name="Resume")
    expect(resume).to_be_enabled()
    resume.click()
    done = api.wait_status(task["id"], "completed", "error", timeout=120)
    assert done["status"] == "completed" and done["pages"] == 60, done
    expect(page.locator("#status")).to_have_text("completed")
    shot("resumed-completed", full_page=False)
    assert unexpected(page.errors) == [], page.errors
