"""Debian's Chromium for the tests that render or drive a browser: there in CI (.ci/run
installs it), so a missing one fails there and is skipped, saying so, only on a developer's
machine."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import in_ci

CHROMIUM = os.environ.get("CRAWLPLANE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def require_chromium() -> str:
    """The browser's path, or the test fails (CI) or is skipped (elsewhere)."""
    if not Path(CHROMIUM).exists():
        reason = f"no chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)"
        if in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason + ": skipped on this machine only")
    return CHROMIUM
