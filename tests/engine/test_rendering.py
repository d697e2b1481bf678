"""The scheme's `render` as Scrapy settings: the browser's handler only when a scheme renders
(a plain crawl never loads Playwright), on the configured Chromium, with its pages bounded by
the scheme's concurrency; and its selectors in Playwright's syntax. The crawls themselves are
tests/api/test_render.py."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from scrapy.settings import Settings

from engine import settings as project_settings
from engine.rendering import CHROMIUM_ARGS, HANDLER, playwright_selector
from engine.scheme import parse_scheme
from engine.task_settings import apply_scheme


def _settings(**sections: Any) -> Settings:
    settings = Settings()
    settings.setmodule(project_settings)
    apply_scheme(settings, parse_scheme({"start_urls": ["http://example.com/"], **sections}))
    return settings


def test_without_render_nothing_changes_and_playwright_is_never_imported() -> None:
    for sections in ({}, {"render": {"enabled": False}}):
        s = _settings(**sections)
        assert s.getdict("DOWNLOAD_HANDLERS") == {} and s.getdict("CRAWLPLANE_RENDER") == {}
    code = ("import sys, engine.settings, engine.rendering, engine.spiders.task, "
            "engine.task_settings; "
            "sys.exit(any(m.split('.')[0] in ('playwright', 'scrapy_playwright') "
            "for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_render_installs_the_handler_on_the_system_chromium() -> None:
    s = _settings(render={"timeout_s": 12}, politeness={"concurrency": 3})
    assert s.getdict("DOWNLOAD_HANDLERS") == {"http": HANDLER, "https": HANDLER}
    launch = s.getdict("PLAYWRIGHT_LAUNCH_OPTIONS")
    assert launch["executable_path"] == project_settings.CRAWLPLANE_CHROMIUM
    assert launch["args"][:len(CHROMIUM_ARGS)] == CHROMIUM_ARGS
    assert s.getint("PLAYWRIGHT_MAX_PAGES_PER_CONTEXT") == 3
    assert s.getfloat("PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT") == 12_000
    assert s.getdict("CRAWLPLANE_RENDER")["timeout_s"] == 12


def test_selectors_in_playwrights_syntax() -> None:
    assert playwright_selector("CSS: div.quote") == "css=div.quote"
    assert playwright_selector("xpath://a[@class='next']") == "xpath=//a[@class='next']"
