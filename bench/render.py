"""Rendering cost: the same pages crawled plain and rendered in Chromium (run on demand).

    .venv/bin/python bench/render.py [--pages 200] [--concurrency 8] [--chromium /usr/bin/chromium]

Starts the test site (tests/site/server.py) and crawls its generated pages (/gen/: 10 links
and one item a page) with `scrapy crawl task -a scheme=...`, following links up to --pages
pages, once plain, once with `"render": {"enabled": true}`, and once more rendered with the
outbound guard on, as in a stored run (the browser behind the filtering proxy,
engine/render_proxy.py; switched on by the guard's own setting, private targets allowed for the
loopback site). Prints pages/s of each (Scrapy's own count over its elapsed time, start-up left
out) and the peak resident memory of the crawl: the Python process alone and its whole process
tree (Playwright's driver and Chromium's processes included), sampled every 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SCRAPY = str(Path(sys.executable).with_name("scrapy"))
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def rss_kb(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB
    except (OSError, IndexError, ValueError):
        return 0


def session_pids(sid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[3]) == sid:  # field 6 of stat: the session id
                pids.append(int(entry))
    return pids


def crawl(name: str, scheme: dict[str, Any], work: Path, env: dict[str, str],
          settings: tuple[str, ...] = ()) -> dict[str, float]:
    path = work / f"{name}.json"
    path.write_text(json.dumps(scheme))
    log = work / f"{name}.log"
    proc = subprocess.Popen([SCRAPY, "crawl", "task", "-a", f"scheme={path}",
                             "-s", "LOG_LEVEL=INFO", "-s", f"LOG_FILE={log}",
                             *(arg for s in settings for arg in ("-s", s))],
                            cwd=ROOT, env=env, start_new_session=True)
    own = tree = 0
    while proc.poll() is None:
        own = max(own, rss_kb(proc.pid))
        tree = max(tree, sum(rss_kb(p) for p in session_pids(proc.pid)))
        time.sleep(0.1)
    text = log.read_text()
    elapsed = float(re.search(r"'elapsed_time_seconds': ([0-9.]+)", text).group(1))  # type: ignore[union-attr]
    pages = int(re.search(r"'response_received_count': (\d+)", text).group(1))  # type: ignore[union-attr]
    items = re.search(r"'item_scraped_count': (\d+)", text)
    return {"pages": pages, "items": int(items.group(1)) if items else 0, "elapsed": elapsed,
            "pages_per_s": pages / elapsed, "rss_mb": own / 1024, "tree_rss_mb": tree / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()

    from tests.site.fixture import TestSite

    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRAWLPLANE_", "SCRAPY"))}
    env["CRAWLPLANE_CHROMIUM"] = args.chromium
    with TestSite.start(gen_pages=args.pages) as site, tempfile.TemporaryDirectory() as tmp:
        base = {
            "start_urls": [site.abs("/gen/0.html")],
            "item": {"selector": "CSS: div.item", "fields": [
                {"name": "title", "selector": "CSS: h2"},
                {"name": "price", "selector": "CSS: span.price"}]},
            "follow": [{"selector": "CSS: li a", "max_depth": 100}],
            "limits": {"max_pages": args.pages},
            "politeness": {"obey_robots": False, "concurrency": args.concurrency},
        }
        results = {}
        guarded = ("CRAWLPLANE_PREVIEW=True", "CRAWLPLANE_ALLOW_PRIVATE_TARGETS=True")
        rendered = {**base, "render": {}}
        for name, scheme, settings in (("plain", base, ()), ("rendered", rendered, ()),
                                       ("filtered", rendered, guarded)):
            results[name] = crawl(name, scheme, Path(tmp), env, settings)
            r = results[name]
            print(f"{name:9} {r['pages']:5.0f} pages {r['items']:5.0f} items "
                  f"{r['elapsed']:6.2f} s  {r['pages_per_s']:7.1f} pages/s  "
                  f"peak RSS {r['rss_mb']:6.1f} MB (process), "
                  f"{r['tree_rss_mb']:6.1f} MB (with browser)")
        ratio = results["rendered"]["pages_per_s"] / results["plain"]["pages_per_s"]
        print(f"rendered/plain throughput: {ratio:.3f} (concurrency {args.concurrency})")
        ratio = results["filtered"]["pages_per_s"] / results["rendered"]["pages_per_s"]
        print(f"filtered/rendered throughput: {ratio:.3f} (the browser behind the filter)")


if __name__ == "__main__":
    main()
