"""Preview benchmark (on demand, not part of the test suite):

    .venv/bin/python bench/preview.py [--repeat 20]

A warm `POST /v1/preview` of one page of the test site's quotes against ScrapyRT's
`crawl.json` for the same page (the same `task` spider and scheme, limited to that page),
measured in the same run. Target (issue 14): the preview at most 1.0x ScrapyRT.
ScrapyRT is installed into the venv on first use (pip), as bench/api.py does.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api import Crawlplane, ensure_installed, scrapyrt_times, summary, timed  # noqa: E402

from tests.site.fixture import TestSite  # noqa: E402


def quotes_scheme(site: TestSite) -> dict[str, Any]:
    return {
        "start_urls": [site.abs("/quotes/page/1/")],
        "item": {"selector": "CSS: div.quote", "fields": [
            {"name": "text", "selector": "CSS: span.text"},
            {"name": "author", "selector": "CSS: small.author"},
            {"name": "tags", "selector": "CSS: a.tag", "many": True}]},
        "limits": {"max_pages": 1},
        "politeness": {"obey_robots": False},
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    with TestSite.start(gen_pages=10) as site:
        scheme = quotes_scheme(site)
        url = scheme["start_urls"][0]
        server = Crawlplane(Path(tempfile.mkdtemp(prefix="cp-bench-preview-")))
        try:
            def once() -> None:
                answer = server.call("POST", "/v1/preview", {"scheme": scheme, "url": url})
                assert len(answer["items"]) == 10, answer

            cold = timed(1, once)
            timed(args.warmup, once)
            preview = timed(args.repeat, once)
        finally:
            server.stop()
        print(f"preview (cold, first) {cold[0]:.3f} s")
        print(f"preview (warm)        {summary(preview)}")
        if not ensure_installed("scrapyrt", "scrapyrt"):
            print("ScrapyRT could not be installed: no comparison")
            return 0
        rt = scrapyrt_times(scheme, args.warmup + args.repeat, 10)[args.warmup:]
        print(f"scrapyrt crawl.json   {summary(rt)}")
        ratio = statistics.median(preview) / statistics.median(rt)
        print(f"ratio to ScrapyRT {ratio:.3f}  (target <= 1.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
