"""Engine throughput: the `task` spider against a hand-written Scrapy spider (run on demand).

    .venv/bin/python bench/engine_throughput.py [--pages 5000] [--concurrency 32]

Generates a static site of N pages (10 links and one item each, like the test site's /gen/)
in a temp dir, serves it with nginx on loopback (a twisted.web static server when nginx is not
installed; it is much slower, so the ratio means less), then crawls it, in this one run, with
(a) a plain Scrapy spider doing the same extraction, Scrapy's default settings except the
concurrency, and (b) the `task` spider of a stored run, so the recorder writes every page, its
DownloadInfo and the items to a SQLite store, and every request goes through the durable
frontier (engine/frontier/: a page row before it is downloaded, claimed in batches). Prints
pages/s of both and their ratio (target: at least 1.0). Throughput is Scrapy's own count over
its own elapsed time (process start-up is left out of both). With --rounds N the two
alternate N times and the best of each counts, which evens out other load on the machine.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SCRAPY = str(Path(sys.executable).with_name("scrapy"))

PLAIN_SPIDER = '''
import scrapy


class PlainSpider(scrapy.Spider):
    name = "plain"
    start_urls = [{start!r}]

    def parse(self, response):
        for item in response.css("div.item"):
            yield {{"title": item.css("h2::text").get(),
                   "price": item.css("span.price::text").get()}}
        for href in response.css("li a::attr(href)").getall():
            yield response.follow(href, self.parse)
'''


def generate(root: Path, n: int) -> None:
    gen = root / "gen"
    gen.mkdir(parents=True)
    for i in range(n):
        links = "\n".join(
            f'<li><a href="/gen/{(i * 7 + k) % n}.html">Page {(i * 7 + k) % n}</a></li>'
            for k in range(1, 11)
        )
        (gen / f"{i}.html").write_text(
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>Generated page {i}</title>\n</head>\n<body>\n"
            f'<div class="item"><h2>Item {i}</h2><span class="price">$ {(i * 31) % 1000}.'
            f"{i % 100:02d}</span></div>\n<ul>\n{links}\n</ul>\n</body>\n</html>\n"
        )
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the static server did not listen on port {port}")


def serve(root: Path, work: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    port = free_port()
    nginx = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None
    )
    if nginx:
        conf = work / "nginx.conf"
        conf.write_text(
            f"worker_processes 1;\ndaemon off;\npid {work}/nginx.pid;\n"
            f"error_log {work}/nginx-error.log;\nevents {{ worker_connections 1024; }}\n"
            f"http {{\n  access_log off;\n  default_type text/html;\n"
            f"  types {{ text/html html; text/plain txt; }}\n"
            f"  client_body_temp_path {work}/tmp;\n  proxy_temp_path {work}/tmp;\n"
            f"  fastcgi_temp_path {work}/tmp;\n  uwsgi_temp_path {work}/tmp;\n"
            f"  scgi_temp_path {work}/tmp;\n"
            f"  server {{ listen 127.0.0.1:{port}; root {root}; }}\n}}\n"
        )
        (work / "tmp").mkdir()
        proc = subprocess.Popen([nginx, "-p", str(work), "-c", str(conf)])
        name = "nginx"
    else:
        code = (
            "import sys\nfrom twisted.internet import reactor\n"
            "from twisted.web.server import Site\nfrom twisted.web.static import File\n"
            "reactor.listenTCP(int(sys.argv[2]), Site(File(sys.argv[1])), interface='127.0.0.1')\n"
            "reactor.run()\n"
        )
        proc = subprocess.Popen([sys.executable, "-c", code, str(root), str(port)])
        name = "twisted.web static File (nginx not installed)"
    wait_for(port)
    return proc, f"http://127.0.0.1:{port}", name


def stats(log: str) -> dict[str, Any]:
    """Scrapy's stats dump at the end of a crawl log."""
    match = re.search(r"Dumping Scrapy stats:\n(\{.*?\})\n", log, re.DOTALL)
    if not match:
        raise RuntimeError("no stats in the crawl log:\n" + log[-3000:])
    text = re.sub(r"datetime\.datetime\([^)]*\)", "None", match.group(1))
    result: dict[str, Any] = ast.literal_eval(text)
    return result


def run(args: list[str], cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{args} failed:\n{proc.stderr[-3000:]}")
    return stats(proc.stderr)


def rate(result: dict[str, Any]) -> float:
    return float(result["response_received_count"]) / float(result["elapsed_time_seconds"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=1)
    opts = ap.parse_args()

    from engine.scheme import parse_scheme
    from engine.store import Store, store_url

    with tempfile.TemporaryDirectory(prefix="cp-bench-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # nginx workers run as another user
        site = work / "site"
        generate(site, opts.pages)
        server, base, server_name = serve(site, work)
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        env.pop("SCRAPY_SETTINGS_MODULE", None)
        plain_dir = work / "plain"
        plain_dir.mkdir()
        (plain_dir / "plain.py").write_text(PLAIN_SPIDER.format(start=f"{base}/gen/0.html"))
        c = str(opts.concurrency)
        scheme = {
            "start_urls": [f"{base}/gen/0.html"],
            "item": {"selector": "CSS: div.item", "fields": [
                {"name": "title", "selector": "CSS: h2"},
                {"name": "price", "selector": "CSS: span.price"},
            ]},
            "follow": [{"selector": "CSS: li a", "max_depth": 100}],
            "politeness": {"concurrency": opts.concurrency},
            "limits": {"max_pages": opts.pages * 2},
        }
        data = work / "data"
        store = Store(store_url("", data))
        task_env = {**env, "CRAWLPLANE_DATA_DIR": str(data),
                    "CRAWLPLANE_ALLOW_PRIVATE_TARGETS": "1"}  # the bench site is on loopback
        task_env.pop("CRAWLPLANE_STORE_URL", None)
        plains: list[dict[str, Any]] = []
        tasks: list[tuple[dict[str, Any], dict[str, Any]]] = []
        try:
            for _ in range(opts.rounds):
                # (a) a plain spider, Scrapy's defaults except concurrency, outside the project
                plains.append(run(
                    [SCRAPY, "runspider", "plain.py", "-s", f"CONCURRENT_REQUESTS={c}",
                     "-s", f"CONCURRENT_REQUESTS_PER_DOMAIN={c}", "-s", "LOG_LEVEL=INFO"],
                    plain_dir, env))
                # (b) the task spider of a stored run: pages, DownloadInfo and items recorded
                task, queued = store.create_task("bench", scheme, parse_scheme(scheme).payload_id)
                assert queued is not None
                result = run([SCRAPY, "crawl", "task", "-a", f"task_id={task['id']}",
                              "-a", f"run_id={queued['id']}", "-s", "LOG_LEVEL=INFO"],
                             ROOT, task_env)
                row = store.get_run(queued["id"])
                assert row is not None
                tasks.append((result, row))
        finally:
            store.close()
            server.terminate()
            server.wait()

    plain = max(plains, key=rate)
    recorded, row = max(tasks, key=lambda t: rate(t[0]))
    plain_rate, task_rate = rate(plain), rate(recorded)
    print(f"server: {server_name}; {opts.pages} pages; concurrency {opts.concurrency}; "
          f"best of {opts.rounds} round(s)")
    print(f"plain scrapy spider: {plain['response_received_count']} responses, "
          f"{plain.get('item_scraped_count', 0)} items in {plain['elapsed_time_seconds']:.2f} s"
          f" = {plain_rate:.0f} pages/s")
    print(f"task spider + store: {recorded['response_received_count']} responses, "
          f"{recorded.get('item_scraped_count', 0)} items in "
          f"{recorded['elapsed_time_seconds']:.2f} s = {task_rate:.0f} pages/s "
          f"(run {row['status']}: {row['pages']} pages, {row['items']} items recorded)")
    print(f"ratio task/plain: {task_rate / plain_rate:.2f} (target >= 1.0)")


if __name__ == "__main__":
    main()
