"""Helpers for engine tests: run the real `task` spider as a process against the test site.

`crawl()` runs `scrapy crawl task -a scheme=... -O out.<fmt>` (a scheme file, no store);
`stored_crawl()` creates a task and a queued run in a SQLite store in a scratch data dir and
runs `scrapy crawl task -a task_id=... -a run_id=...`, then reads pages, their DownloadInfo and
the items back. Crawls that several tests look at are session- or module-scoped fixtures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.scheme import parse_scheme
from engine.store import Store, store_url
from engine.store.tables import pages
from tests.site.fixture import TestSite

ROOT = Path(__file__).resolve().parents[2]
SCRAPY = str(Path(sys.executable).with_name("scrapy"))
FORMATS = ("json", "jsonl", "csv", "xml", "xlsx")


@dataclass
class Crawl:
    returncode: int
    log: str
    seconds: float
    outputs: dict[str, Path] = field(default_factory=dict)
    site_log: list[dict[str, Any]] = field(default_factory=list)  # requests the site saw

    def items(self, fmt: str = "jsonl") -> list[dict[str, Any]]:
        text = self.outputs[fmt].read_text("utf-8")
        if fmt == "json":
            items: list[dict[str, Any]] = json.loads(text)
            return items
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def paths(self) -> list[str]:
        """Paths the site was asked for, robots.txt left out."""
        return [e["path"] for e in self.site_log if e["path"] != "/robots.txt"]


@dataclass
class StoredCrawl(Crawl):
    store: Store | None = None
    run_id: str = ""
    task_id: str = ""

    def run(self) -> dict[str, Any]:
        assert self.store is not None
        run = self.store.get_run(self.run_id)
        assert run is not None
        return run

    def pages(self) -> list[dict[str, Any]]:
        assert self.store is not None
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(pages).where(pages.c.run_id == self.run_id)).mappings()
            return [dict(r) for r in rows]

    def page(self, url: str) -> dict[str, Any]:
        (row,) = [p for p in self.pages() if p["url"] == url]
        return row

    def infos(self, url: str) -> list[dict[str, Any]]:
        assert self.store is not None
        return self.store.page_infos(self.page(url)["id"])

    def stored_items(self) -> list[Any]:
        assert self.store is not None
        return list(self.store.iter_items(self.run_id))


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["CRAWLPLANE_DATA_DIR"] = str(data_dir)
    env["CRAWLPLANE_ALLOW_PRIVATE_TARGETS"] = "1"  # stored runs are guarded; the site is local
    env.pop("CRAWLPLANE_STORE_URL", None)
    return env


def _run(args: list[str], data_dir: Path, timeout: float) -> tuple[int, str, float]:
    started = time.monotonic()
    proc = subprocess.run(
        [SCRAPY, "crawl", "task", *args, "-s", "LOG_LEVEL=INFO"],
        cwd=ROOT, env=_env(data_dir), capture_output=True, text=True, timeout=timeout,
    )
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started


def crawl(site: TestSite | None, scheme: dict[str, Any] | str, workdir: Path,
          formats: tuple[str, ...] = ("jsonl",), timeout: float = 60,
          extra: tuple[str, ...] = ()) -> Crawl:
    """Run the task spider on a scheme file; one output file per format."""
    workdir.mkdir(parents=True, exist_ok=True)
    scheme_file = workdir / "scheme.json"
    scheme_file.write_text(scheme if isinstance(scheme, str) else json.dumps(scheme))
    outputs = {fmt: workdir / f"out.{fmt}" for fmt in formats}
    args = ["-a", f"scheme={scheme_file}", *extra]
    for path in outputs.values():
        args += ["-O", str(path)]
    if site is not None:
        site.clear_log()
    code, log, seconds = _run(args, workdir / "data", timeout)
    site_log = site.log() if site is not None else []
    return Crawl(code, log, seconds, outputs, site_log)


def stored_crawl(site: TestSite, scheme: dict[str, Any], workdir: Path,
                 timeout: float = 60) -> StoredCrawl:
    """Run the task spider for a task and run created in a SQLite store under workdir."""
    data_dir = workdir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(store_url("", data_dir))
    task, run = store.create_task("tenant", scheme, parse_scheme(scheme).payload_id)
    assert run is not None
    out = workdir / "out.jsonl"
    site.clear_log()
    code, log, seconds = _run(
        ["-a", f"task_id={task['id']}", "-a", f"run_id={run['id']}", "-O", str(out)],
        data_dir, timeout,
    )
    return StoredCrawl(code, log, seconds, {"jsonl": out}, site.log(), store, run["id"],
                       task["id"])


@pytest.fixture(scope="session")
def quotes_crawl(site: TestSite, tmp_path_factory: pytest.TempPathFactory) -> Crawl:
    """The quotes listing with every field feature, author detail pages, all five formats."""
    from tests.engine.schemes import quotes_scheme

    result = crawl(site, quotes_scheme(site.url), tmp_path_factory.mktemp("quotes"), FORMATS)
    assert result.returncode == 0, result.log[-3000:]
    return result
