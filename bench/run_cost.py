"""CPU per one-page run in a crawl process (run on demand, not part of the test suite):

    .venv/bin/python bench/run_cost.py [--runs 40] [--kind both|stored|plain]

What a shared crawl process (engine/shared.py) spends on each one-page task of a burst, against
the same `task` spider and scheme run without the store (`-a scheme=`, as ScrapyRT runs it):
both in this one process, alternating, on one reactor as a shared process has it (one store for
its crawls, its start-up heap frozen, each crawl's settings copied ahead of it). Prints the
median CPU time per run of each (`time.process_time`: every thread of this process, so the
store's writes count) and their ratio. CPU, not wall time: a burst on two cores is CPU-bound,
and the waits of one run (the site, the scheduler's polls) are not its cost.

CPU time moves with the machine's load (both kinds alike). For counts that do not move, run one
kind under callgrind with two numbers of runs and divide the difference:

    valgrind --tool=callgrind .venv/bin/python bench/run_cost.py --kind stored --runs 5
    valgrind --tool=callgrind .venv/bin/python bench/run_cost.py --kind stored --runs 25
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=40, help="runs of each kind (after one)")
    parser.add_argument("--kind", choices=("both", "stored", "plain"), default="both")
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="cp-bench-cost-")
    # (read by engine/settings.py as it is imported)
    os.environ.update(CRAWLPLANE_DATA_DIR=data_dir, CRAWLPLANE_ALLOW_PRIVATE_TARGETS="1")
    os.chdir(ROOT)  # (scrapy.cfg: the project's settings)
    from tests.site.fixture import TestSite

    with TestSite.start(gen_pages=args.runs + 101) as site:
        costs = measure(site, args.runs + 1, args.kind, data_dir)
    print(f"CPU per one-page run, median of {args.runs} (the first of each left out)")
    for kind, times in costs.items():
        print(f"   {kind:7} {1000 * statistics.median(times[1:]):6.1f} ms")
    if len(costs) == 2:
        ratio = statistics.median(costs["stored"][1:]) / statistics.median(costs["plain"][1:])
        print(f"   stored/plain {ratio:.2f}")
    return 0


def measure(site: Any, runs: int, kind: str, data_dir: str) -> dict[str, list[float]]:
    from api import one_page  # (bench/api.py's one-page task: its burst's)
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.project import get_project_settings
    from scrapy.utils.reactor import install_reactor

    from engine.scheme import Scheme
    from engine.shared import CopiedAhead
    from engine.store import Store, store_url
    from engine.store.keys import ensure_tenant
    from engine.store_access import share_store

    settings = get_project_settings()
    settings.set("LOG_FILE", str(Path(data_dir) / "crawl.log"))
    url = store_url(settings.get("CRAWLPLANE_STORE_URL"), data_dir)
    store = Store(url)
    tenant = ensure_tenant(store, "bench", "secret")
    schemes = [Scheme.model_validate(one_page(site, 100 + i)).model_dump(mode="json")
               for i in range(runs)]
    stored = []
    for scheme in schemes if kind != "plain" else []:
        task, run = store.create_task(tenant["id"], scheme, "bench")
        assert run is not None
        stored.append({"task_id": task["id"], "run_id": run["id"]})
    plain = [{"scheme": json.dumps(scheme)} for scheme in schemes] if kind != "stored" else []
    share_store(Store(url, migrate=False))
    install_reactor(settings["TWISTED_REACTOR"])
    process = CrawlerProcess(settings)
    process.settings = CopiedAhead(process.settings, 1)
    gc.collect()
    gc.freeze()  # (as the fork server does before it forks a shared process)
    from twisted.internet import reactor

    kinds = {name: jobs for name, jobs in (("stored", stored), ("plain", plain)) if jobs}
    queue = [(name, jobs[i]) for i in range(runs) for name, jobs in kinds.items()]  # alternating
    costs: dict[str, list[float]] = {}

    def next_run() -> None:
        if not queue:
            reactor.stop()
            return
        process.settings.prepare_one()  # (a shared process copies them while idle)
        name, crawl_args = queue.pop(0)
        started = time.process_time()
        done = process.crawl("task", **crawl_args)
        done.addBoth(lambda _: costs.setdefault(name, []).append(
            time.process_time() - started))
        done.addBoth(lambda _: reactor.callLater(0, next_run))

    reactor.callWhenRunning(next_run)
    process.start(stop_after_crawl=False)
    for one in stored:  # every stored run did what it was for
        run = store.get_run(one["run_id"])
        assert run is not None and run["status"] == "completed" and run["items"] == 1, run
    return costs


if __name__ == "__main__":
    sys.exit(main())
