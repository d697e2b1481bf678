"""Scale-out: two tasks on two Scrapyd nodes against the same two tasks on one node (on demand).

    .venv/bin/python bench/scale.py [--pages 3000] [--concurrency 16] [--rounds 2]

In one run: a generated static site served by nginx (bench/engine_throughput.py), a fresh
PostgreSQL database, two real Scrapyd nodes with this project's egg, and `crawlplane serve`
with the Scrapyd launcher, first given one node, then both. Each round creates two tasks that
crawl the whole site (N pages each) and waits until both completed. Prints the aggregate
pages/s (pages of both runs over the wall time from creating the tasks to both completed, and
over the time the crawls ran, first start to last end) and the ratio two nodes / one node.

Both nodes run on this machine: with two crawl processes either way, the ratio shows what the
launcher and the shared store cost, not what a second machine adds (on two machines, each
crawl process has a machine's cores to itself).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.engine_throughput import generate, serve  # noqa: E402
from tests import pg  # noqa: E402
from tests.scrapyd.nodes import ScrapydNode, build_egg  # noqa: E402
from tests.support.server import start_server  # noqa: E402


def stamp(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def round_(nodes: list[ScrapydNode], database: str, scheme: dict[str, Any]) -> dict[str, float]:
    data_dir = Path(tempfile.mkdtemp(prefix="cp-server-"))
    server = start_server(data_dir, keys=("bench",), CRAWLPLANE_STORE_URL=database,
                          CRAWLPLANE_SCRAPYD_NODES=",".join(n.config_url for n in nodes))
    try:
        began = time.monotonic()
        created = [server.create(scheme, name=f"scale {i}") for i in range(2)]
        done = [server.wait_status(t["id"], "completed", "error", timeout=1800)
                for t in created]
        wall = time.monotonic() - began
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    for task in done:
        if task["status"] != "completed":
            raise SystemExit(f"task {task['id']} ended {task['status']}: {task['error']}")
    pages = sum(t["pages"] for t in done)
    crawling = max(stamp(t["ended_at"]) for t in done) - min(stamp(t["started_at"]) for t in done)
    starts = [stamp(t["started_at"]) for t in done]
    took = ", ".join(f"{t['elapsed']:.2f}" for t in done)
    print(f"{len(nodes)} node(s): runs started {max(starts) - min(starts):.2f} s apart, "
          f"took {took} s", flush=True)
    return {"pages": pages, "wall": wall, "crawling": crawling,
            "rate_wall": pages / wall, "rate_crawling": pages / crawling}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=2,
                    help="alternate one node / two nodes this many times; the best of each counts")
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="cp-scale-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # nginx workers run as another user
        generate(work / "site", opts.pages)
        web, base, web_name = serve(work / "site", work)
        nodes = [ScrapydNode("a"), ScrapydNode("b")]
        try:
            egg = build_egg(work / "egg")
            for node in nodes:
                node.start().deploy(egg)
            scheme = {
                "start_urls": [f"{base}/gen/0.html"],
                "item": {"selector": "CSS: div.item", "fields": [
                    {"name": "title", "selector": "CSS: h2"},
                    {"name": "price", "selector": "CSS: span.price"}]},
                "follow": [{"selector": "CSS: li a", "max_depth": 100}],
                "politeness": {"concurrency": opts.concurrency, "obey_robots": False},
                "limits": {"max_pages": opts.pages * 2},
            }
            with pg.fresh_database("crawlplane_bench") as database:
                ones, twos = [], []
                for _ in range(opts.rounds):  # alternated: other load on the machine evens out
                    ones.append(round_(nodes[:1], database, scheme))
                    twos.append(round_(nodes, database, scheme))
                one = max(ones, key=lambda r: r["rate_wall"])
                two = max(twos, key=lambda r: r["rate_wall"])
        finally:
            for node in nodes:
                node.close()
            web.terminate()
    print(f"site: {opts.pages} pages served by {web_name}; two tasks of {opts.pages} pages each,"
          f" concurrency {opts.concurrency}; store: PostgreSQL")
    for label, r in (("one node ", one), ("two nodes", two)):
        print(f"{label}: {r['pages']:.0f} pages, {r['wall']:.2f} s wall -> "
              f"{r['rate_wall']:.0f} pages/s; crawling {r['crawling']:.2f} s -> "
              f"{r['rate_crawling']:.0f} pages/s")
    print(f"ratio two/one: {two['rate_wall'] / one['rate_wall']:.2f} (wall), "
          f"{two['rate_crawling'] / one['rate_crawling']:.2f} (crawling)")


if __name__ == "__main__":
    main()
