"""A warm crawl process: imports Scrapy and the engine first, then waits for its run.

The local launcher keeps one of these idle, so a run starts without paying Python's and
Scrapy's start-up (about 0.7 s). It reads one JSON line on stdin, `{"task_id", "run_id"}`, runs
that crawl in this process and exits; EOF on stdin (the server went away) exits at once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> int:
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.project import get_project_settings
    from scrapy.utils.reactor import install_reactor

    import engine.spiders.task  # noqa: F401  (import the spider's dependencies while idle)

    settings = get_project_settings()
    install_reactor(settings["TWISTED_REACTOR"])
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    job = json.loads(line)
    log_dir = Path(settings["CRAWLPLANE_DATA_DIR"]) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    settings.set("LOG_FILE", str(log_dir / f"{job['run_id']}.log"), priority="cmdline")
    process = CrawlerProcess(settings, install_root_handler=True)
    process.crawl("task", task_id=job["task_id"], run_id=job["run_id"])
    process.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
