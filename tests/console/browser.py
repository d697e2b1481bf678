"""Headless Chromium for the console tests: Debian's `chromium` driven by Playwright's Python
package with the system executable path (never a downloaded browser, DESIGN.md decision 9).
Without chromium the tests fail in CI and are skipped, saying so, on a developer's machine."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.chromium import CHROMIUM, require_chromium

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path("/tmp/console-shots")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


class Shots:
    """Screenshots under the test's tmp dir, copied to /tmp/console-shots/ to look at."""

    def __init__(self, page: Any, folder: Path, prefix: str):
        self.page = page
        self.folder = folder
        self.prefix = prefix

    def __call__(self, name: str, full_page: bool = True) -> Path:
        path = self.folder / f"{self.prefix}-{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SHOTS / path.name)
        return path
