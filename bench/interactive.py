"""Interactive API benchmark (on demand, not part of the test suite):

    .venv/bin/python bench/interactive.py [--steps 20] [--pause 0.005] [--fanout]

A client-driven crawl over the test site's /gen/ pages through the real server, as a Web Data
Source client does it: each step crawls the current page's first link (`crawl`, from the page
cache; with --fanout all ten links, which the job then downloads too), takes the first new
download task and repeats `scrape` on it while it answers 202. A step's
overhead is its wall time minus the new page's own download time (its DownloadInfo
`DownloadTimeSec`): the API, the store, the job process noticing the new task, the recorder
writing it, and the client's polling. Target: at most 50 ms a step.

The overhead is split in two: "pickup", from the crawl call's answer until the new page's
request left (the job process noticing and claiming the task, Scrapy scheduling it), and
"visible", from the end of its download until the client's scrape got it (the recorder's write
and the client's repeats).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.interactive.conftest import Client, start_server, stop_server  # noqa: E402
from tests.site.fixture import TestSite  # noqa: E402


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def summary(name: str, values: list[float]) -> None:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    print(f"{name:<34} median {ms(statistics.median(values))}  p90 {ms(p90)}  "
          f"max {ms(ordered[-1])}  (n={len(values)})")


def scraped(client: Client, task_id: str, pause: float) -> int:
    """Repeat scrape until the page is there; returns how many calls it took."""
    calls = 0
    while True:
        calls += 1
        answer = client.call("GET", f"/api/v2/tasks/{task_id}/scrape",
                             params={"selector": "CSS: h1"})
        if answer.status != 202:
            assert answer.status == 200, answer.body
            return calls
        time.sleep(pause)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--pause", type=float, default=0.005,
                        help="seconds between a client's repeats on 202")
    parser.add_argument("--fanout", action="store_true",
                        help="crawl every link of a page (ten), not only the first")
    args = parser.parse_args()

    with TestSite.start(gen_pages=1000) as site, tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp))
        try:
            client = server.client("bench")
            t0 = time.perf_counter()
            current = client.start("bench", {"StartUrls": [site.abs("/gen/0.html")]})[0]
            scraped(client, current["Id"], args.pause)
            print(f"job start until its first page is ready: {ms(time.perf_counter() - t0)} "
                  "(a warm crawl process takes the run, robots.txt, the page)")

            selector = "CSS: li a" if args.fanout else "XPATH: (//li/a)[1]"
            known = {current["Id"]}  # every download task the job has: a step takes a new one
            steps, overheads, downloads, polls, pickups, visibles = [], [], [], [], [], []
            crawl_calls, scrape_calls = [], []
            for _ in range(args.steps):
                started = time.perf_counter()
                links = client.crawl(current["Id"], selector)
                crawled = time.perf_counter()
                if all(t["Id"] in known for t in links):  # the chain came back: fan out once
                    links = client.crawl(current["Id"], "CSS: li a")
                following = next(t for t in links if t["Id"] not in known)
                known.update(t["Id"] for t in links)
                answered = time.time()
                polls.append(scraped(client, following["Id"], args.pause))
                step = time.perf_counter() - started
                seen_at = time.time()
                info = client.info(following["Id"])
                download = float(info["Result"]["DownloadTimeSec"])
                sent = datetime.fromisoformat(
                    info["Result"]["RequestDateUtc"].replace("Z", "+00:00")).timestamp()
                pickups.append(sent - answered)
                visibles.append(seen_at - (sent + download))
                steps.append(step)
                downloads.append(download)
                overheads.append(step - download)
                crawl_calls.append(crawled - started)
                current = following

            for _ in range(args.steps):  # cached pages: one call each
                t = time.perf_counter()
                client.crawl(current["Id"], "CSS: li a")
                crawl_calls.append(time.perf_counter() - t)
                t = time.perf_counter()
                scraped(client, current["Id"], args.pause)
                scrape_calls.append(time.perf_counter() - t)

            print(f"{args.steps} steps of {'ten links' if args.fanout else 'one link'}, "
                  f"client repeats every {args.pause * 1000:.0f} ms on 202, "
                  f"{statistics.mean(polls):.1f} scrape calls a step on average")
            summary("step (crawl + scrape until 200)", steps)
            summary("page download time (DownloadInfo)", downloads)
            summary("step overhead beyond download", overheads)
            summary("  pickup (crawl answered -> sent)", pickups)
            summary("  visible (downloaded -> scraped)", visibles)
            summary("crawl call (one request)", crawl_calls)
            summary("scrape call on a cached page", scrape_calls)
            target = statistics.median(overheads) <= 0.05
            print(f"target: overhead at most 50 ms a step -> "
                  f"{'met' if target else 'NOT met'} (median)")
        finally:
            stop_server(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
