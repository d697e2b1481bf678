"""The durable frontier's benchmarks (run on demand; ratios from the same run).

    .venv/bin/python bench/frontier.py processes [--pages 20000] [--store-url postgresql://...]
    .venv/bin/python bench/frontier.py memory [--small 5000] [--large 100000]

`processes`: one stored crawl of a static site of N pages (bench/engine_throughput.py's site,
served by nginx) on PostgreSQL (a fresh database from tests/pg.py's cluster unless
--store-url), with `"processes": 1` and then `"processes": 2` (two `scrapy crawl` processes on
the one run, started together); pages/s from the first start to the last exit. Target: 2
processes at least 1.6x one on a 2-core machine.

`memory`: peak RSS of the crawl process (its own rusage) of a stored run on SQLite, on a
5,000-page and a 100,000-page site. Target: the large one at most 1.3x the small one.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.engine_throughput import SCRAPY, generate, serve  # noqa: E402


def scheme(base: str, pages: int, processes: int, concurrency: int) -> dict[str, Any]:
    return {
        "start_urls": [f"{base}/gen/0.html"],
        "item": {"selector": "CSS: div.item", "fields": [
            {"name": "title", "selector": "CSS: h2"},
            {"name": "price", "selector": "CSS: span.price"},
        ]},
        "follow": [{"selector": "CSS: li a", "max_depth": 100}],
        "politeness": {"concurrency": concurrency},
        "limits": {"max_pages": pages * 2, "timeout_s": 3600},
        "processes": processes,
    }


def crawl(store: Any, env: dict[str, str], data: dict[str, Any],
          processes: int) -> tuple[float, dict[str, Any], list[int]]:
    """Run one stored crawl with `processes` crawl processes; seconds, the run, peak RSS (KB)
    of each process."""
    from engine.scheme import parse_scheme

    task, run = store.create_task("bench", data, parse_scheme(data).payload_id)
    assert run is not None
    args = [SCRAPY, "crawl", "task", "-a", f"task_id={task['id']}", "-a", f"run_id={run['id']}",
            "-s", "LOG_LEVEL=WARNING"]
    started = time.monotonic()
    procs = [subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for _ in range(processes)]
    peaks = []
    for proc in procs:
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        assert proc.stderr is not None
        err = proc.stderr.read().decode("utf-8", "replace")
        if proc.returncode != 0:
            raise RuntimeError(f"the crawl failed:\n{err[-3000:]}")
        peaks.append(int(usage.ru_maxrss))
    seconds = time.monotonic() - started
    row = store.get_run(run["id"])
    assert row is not None
    return seconds, row, peaks


def environment(data_dir: Path, store_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.pop("SCRAPY_SETTINGS_MODULE", None)
    env.update(CRAWLPLANE_DATA_DIR=str(data_dir), CRAWLPLANE_ALLOW_PRIVATE_TARGETS="1",
               CRAWLPLANE_STORE_URL=store_url)
    return env


def processes(opts: argparse.Namespace) -> None:
    from engine.store import Store, store_url

    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="cp-frontier-") as tmp:
        url = opts.store_url
        if not url:
            from tests import pg

            url = stack.enter_context(pg.fresh_database("crawlplane_bench"))
        work = Path(tmp)
        work.chmod(0o755)
        generate(work / "site", opts.pages)
        server, base, name = serve(work / "site", work)
        store = Store(store_url(url, work / "data"))
        env = environment(work / "data", url)
        try:
            results = {n: crawl(store, env, scheme(base, opts.pages, n, opts.concurrency), n)
                       for n in (1, 2)}
        finally:
            store.close()
            server.terminate()
            server.wait()
    print(f"server: {name}; {opts.pages} pages; concurrency {opts.concurrency} per process; "
          "PostgreSQL")
    rates = {}
    for n, (seconds, row, _) in results.items():
        rates[n] = row["pages"] / seconds
        print(f"{n} process(es): run {row['status']}, {row['pages']} pages, {row['items']} items"
              f" in {seconds:.1f} s = {rates[n]:.0f} pages/s")
    print(f"ratio 2 processes / 1: {rates[2] / rates[1]:.2f} (target >= 1.6)")


def memory(opts: argparse.Namespace) -> None:
    from engine.store import Store, store_url

    peaks = {}
    for pages in (opts.small, opts.large):
        with tempfile.TemporaryDirectory(prefix="cp-frontier-") as tmp:
            work = Path(tmp)
            work.chmod(0o755)
            generate(work / "site", pages)
            server, base, name = serve(work / "site", work)
            store = Store(store_url("", work / "data"))
            try:
                seconds, row, (peak,) = crawl(store, environment(work / "data", ""),
                                              scheme(base, pages, 1, opts.concurrency), 1)
            finally:
                store.close()
                server.terminate()
                server.wait()
        peaks[pages] = peak
        print(f"{pages} pages: run {row['status']}, {row['pages']} pages in {seconds:.0f} s; "
              f"peak RSS {peak / 1024:.0f} MB ({name}, SQLite)")
    print(f"ratio peak RSS {opts.large} / {opts.small} pages: "
          f"{peaks[opts.large] / peaks[opts.small]:.2f} (target <= 1.3)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="bench", required=True)
    one = sub.add_parser("processes")
    one.add_argument("--pages", type=int, default=20_000)
    one.add_argument("--store-url", default="")
    one.add_argument("--concurrency", type=int, default=16)
    mem = sub.add_parser("memory")
    mem.add_argument("--small", type=int, default=5_000)
    mem.add_argument("--large", type=int, default=100_000)
    mem.add_argument("--concurrency", type=int, default=32)
    opts = ap.parse_args()
    processes(opts) if opts.bench == "processes" else memory(opts)


if __name__ == "__main__":
    main()
