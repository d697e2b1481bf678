"""Run the `task` spider on a stored task in a real crawl process, and read back what it recorded.

Each crawl gets its own data directory (SQLite store); the scheme is stored as a task and run,
then `scrapy crawl task -a task_id=.. -a run_id=..` runs in a subprocess from the repo root.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from engine.scheme import parse_scheme
from engine.store import Store, store_url
from engine.store.tables import pages

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Page:
    url: str
    state: str
    http_status: int | None
    error: str | None
    attempts: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Crawl:
    returncode: int
    log: str
    pages: dict[str, Page]  # by the page's (first) URL

    def page(self, url: str) -> Page:
        assert url in self.pages, f"{url} not recorded; pages: {sorted(self.pages)}\n{self.log}"
        return self.pages[url]


def crawl(scheme: dict[str, Any], settings: dict[str, Any] | None = None,
          timeout: float = 60) -> Crawl:
    """Crawl `scheme` in a subprocess; `settings` become `-s NAME=VALUE` (JSON for non-str)."""
    parsed = parse_scheme(scheme)
    with tempfile.TemporaryDirectory(prefix="cp-politeness-") as data_dir:
        store = Store(store_url(None, data_dir))
        try:
            task, run = store.create_task("tenant", parsed.model_dump(mode="json"),
                                          parsed.payload_id)
            assert run is not None
            args = [sys.executable, "-m", "scrapy", "crawl", "task",
                    "-a", f"task_id={task['id']}", "-a", f"run_id={run['id']}",
                    "-s", "CRAWLPLANE_FLUSH_INTERVAL=0.2", "-s", "LOG_LEVEL=DEBUG"]
            for name, value in (settings or {}).items():
                text = value if isinstance(value, str) else json.dumps(value)
                args += ["-s", f"{name}={text}"]
            env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
            env["CRAWLPLANE_DATA_DIR"] = data_dir
            env["CRAWLPLANE_ALLOW_PRIVATE_TARGETS"] = "1"  # stored runs are guarded
            proc = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True,
                                  timeout=timeout)
            with store.engine.connect() as conn:
                rows = conn.execute(select(pages).where(pages.c.run_id == run["id"])).mappings()
                found = {
                    r["url"]: Page(r["url"], r["state"], r["http_status"], r["error"],
                                   store.page_infos(r["id"]))
                    for r in rows
                }
        finally:
            store.close()
    return Crawl(proc.returncode, proc.stderr, found)


def scheme(urls: list[str], **sections: Any) -> dict[str, Any]:
    """A scheme for `urls` (no links followed), with the given sections, e.g. politeness={}."""
    return {"start_urls": urls, **sections}


def gaps(times: list[float]) -> list[float]:
    times = sorted(times)
    return [round(b - a, 3) for a, b in zip(times, times[1:], strict=False)]
