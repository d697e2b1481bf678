"""A warm crawl process: imports Scrapy and the engine first, then waits for its run.

The local launcher keeps one of these idle, so a run starts without paying Python's and
Scrapy's start-up (about 0.7 s). It reads one JSON line on stdin, `{"task_id", "run_id"}`, runs
that crawl in this process and exits; EOF on stdin (the server went away) exits at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from pathlib import Path

from scrapy.settings import BaseSettings, Settings

IMPORT_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")


def main() -> int:
    settings = prepare()
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    crawl(settings, json.loads(line))
    return 0


def prepare() -> Settings:
    """Everything a run needs that does not depend on the run: Scrapy, the engine and every
    component the settings name imported, the process niced. No reactor yet (the fork server
    forks after this: engine/forkserver.py)."""
    from scrapy.utils.project import get_project_settings

    import engine.extensions.logcount  # noqa: F401  (a shared process's log counter, and
    import engine.frontier.scheduler  # noqa: F401  a stored run's scheduler: set per run)
    import engine.spiders.task  # noqa: F401  (import the spider's dependencies while idle)

    settings = get_project_settings()
    # Below the server's priority: under CPU contention the control API answers first.
    os.nice(settings.getint("CRAWLPLANE_WORKER_NICE"))
    preload(settings)
    return settings


def crawl(settings: Settings, job: dict[str, str]) -> None:
    """Run `job` ({"task_id", "run_id"}) in this process, on a reactor installed now, with the
    run's own log file."""
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.reactor import install_reactor

    install_reactor(settings["TWISTED_REACTOR"])
    log_file = log_path(Path(settings["CRAWLPLANE_DATA_DIR"]), job["run_id"])
    log_file.parent.mkdir(parents=True, exist_ok=True)
    settings.set("LOG_FILE", str(log_file), priority="cmdline")
    process = CrawlerProcess(settings)  # (LOG_INSTALL_ROOT_HANDLER: True, the run's LOG_FILE)
    process.crawl("task", task_id=job["task_id"], run_id=job["run_id"])
    process.start()


def log_path(data_dir: Path, run_id: str) -> Path:
    """Where a run's crawl log is written (it names every page the run fetched or refused)."""
    return data_dir / "logs" / f"{run_id}.log"


def preload(settings: BaseSettings) -> None:
    """Import every component the settings name (middlewares, extensions, download handlers,
    scheduler, ...), as a crawl does when it starts: about 0.8 s that a run would pay."""
    from scrapy.utils.misc import load_object

    from engine.store import preload_dialect

    preload_dialect()

    for name in settings:
        value = settings[name]
        if isinstance(value, BaseSettings):
            value = value.copy_to_dict()
        names = [value] if isinstance(value, str) else []
        if isinstance(value, dict):
            names = [*value, *(v for v in value.values() if isinstance(v, str))]
        elif isinstance(value, list | tuple):
            names = [v for v in value if isinstance(v, str)]
        for path in names:
            if isinstance(path, str) and IMPORT_PATH.match(path):
                with contextlib.suppress(Exception):
                    load_object(path)


if __name__ == "__main__":
    sys.exit(main())
