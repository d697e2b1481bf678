"""Control API benchmark (on demand, not part of the test suite):

    .venv/bin/python bench/api.py [--pages 60] [--repeat 5] [--duration 5] [--no-scrapyd] ...

1. Latency: a task POSTed until `completed` for a 60-page crawl of the test site's /gen/ pages
   (61 responses with the warm-up's), against the same crawl (the same `task` spider and
   scheme) through Scrapyd's schedule.json until `finished`, and ScrapyRT's crawl.json.
   Targets (issue 16): at most 0.05 of Scrapyd, 0.7 of ScrapyRT.
2. A burst: 20 one-page tasks (different /gen/ pages) created at once until all are completed,
   against ScrapyRT answering the same 20 pages requested at once. Target: at most 1.0.
   In 1. and 2. each of our runs is followed by one of ScrapyRT's: on a noisy machine both
   see the same minutes (run one after the other, ScrapyRT's burst median went from 0.39 s to
   0.62 s between two runs of this benchmark on the same day).
3. Reads, in the same run: GET /health, GET /v1/tasks/{id} (target >= 0.5x /health) and
   GET /v1/tasks?take=100 over 300 tasks (target >= 0.15x /health) idle; GET /v1/tasks/{id}
   while a 5,000-page crawl runs (target >= 0.9x idle, p99 <= 25 ms). Measured with wrk
   when it is installed (`apt-get install wrk`), as the issue was; else a Python client.
4. `--streams N` (alone: `--streams 200 --no-scrapyd --no-scrapyrt --no-load --repeat 0`):
   GET /v1/tasks/{id} req/s with no event streams, then with N open /events streams on
   (idle) tasks, same server. Target: ratio >= 0.9.
5. `--postgres` (a fresh database of tests/pg.py's cluster) or `--store-url URL`: the server's
   store; with `--repeat 0`, the reads (3.) alone, on that store.

Scrapyd and ScrapyRT are installed into the venv on first use (pip); they are not dependencies.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.site.fixture import TestSite  # noqa: E402

BIN = Path(sys.executable).parent
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(method: str, url: str, body: Any = None, key: str | None = None,
         form: dict[str, str] | None = None) -> Any:
    headers = {"X-API-KEY": key} if key else {}
    data = None
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    elif form is not None:
        data = urllib.parse.urlencode(form).encode()
    with _opener.open(urllib.request.Request(url, data, headers, method=method),
                      timeout=300) as answer:
        return json.loads(answer.read())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _opener.open(url, timeout=2).read()
            return
        except urllib.error.HTTPError:  # it answers
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextlib.contextmanager
def process(args: list[str], **kwargs: Any) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(args, text=True, **kwargs)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ensure_installed(module: str, package: str) -> bool:
    check = [sys.executable, "-c", f"import {module}"]
    if subprocess.run(check, capture_output=True).returncode == 0:
        return True
    print(f"installing {package} into the venv ...", flush=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", package])
    return subprocess.run(check, capture_output=True).returncode == 0


def gen_scheme(site: TestSite, pages: int, concurrency: int = 8) -> dict[str, Any]:
    return {
        "start_urls": [site.abs("/gen/0.html")],
        "item": {"selector": "CSS: div.item", "fields": [
            {"name": "title", "selector": "CSS: h2"},
            {"name": "price", "selector": "CSS: span.price"}]},
        "follow": [{"selector": "CSS: li a", "max_depth": 100}],
        "limits": {"max_pages": pages},
        "politeness": {"obey_robots": False, "concurrency": concurrency},
    }


def timed(repeat: int, once: Callable[[], None], pause: float = 0.0) -> list[float]:
    times = []
    for _ in range(repeat):
        time.sleep(pause)
        start = time.perf_counter()
        once()
        times.append(time.perf_counter() - start)
    return times


def summary(times: list[float]) -> str:
    return (f"median {statistics.median(times):.3f} s  (min {min(times):.3f}, "
            f"max {max(times):.3f}, n={len(times)})")


# -- Crawlplane --------------------------------------------------------------------------------


class Crawlplane:
    def __init__(self, data_dir: Path, store_url: str = ""):
        self.env = {**os.environ, "CRAWLPLANE_DATA_DIR": str(data_dir),
                    "CRAWLPLANE_LISTEN": "127.0.0.1:0", "CRAWLPLANE_ALLOW_PRIVATE_TARGETS": "1",
                    "CRAWLPLANE_RATE_LIMIT": "0", "CRAWLPLANE_STORE_URL": store_url}
        self.proc = subprocess.Popen([str(BIN / "crawlplane"), "serve"], env=self.env,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        self.url = line.split("listening on ", 1)[1].strip()
        out = subprocess.run([str(BIN / "crawlplane"), "keys", "create", "bench"], env=self.env,
                             capture_output=True, text=True, check=True)
        self.key = out.stdout.strip().splitlines()[-1]
        self.phases: list[tuple[float, float, float]] = []

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        return http(method, self.url + path, body, self.key)

    def run_until_completed(self, scheme: dict[str, Any], expect_items: int) -> None:
        task = self.call("POST", "/v1/tasks", {"scheme": scheme})
        while task["status"] in ("queued", "running"):
            time.sleep(0.005)
            task = self.call("GET", f"/v1/tasks/{task['id']}")
        seen = time.time()
        assert task["status"] == "completed" and task["items"] == expect_items, task
        created, started, ended = (datetime.fromisoformat(task[k].replace("Z", "+00:00"))
                                   .timestamp() for k in ("created_at", "started_at", "ended_at"))
        self.phases.append((started - created, ended - started, seen - ended))

    def phase_summary(self) -> str:
        """Where a run's time went (medians): created to started (its crawl opened), started
        to ended (the crawl and its last writes), ended to seen by the client's poll."""
        recent = self.phases[-5:]
        names = ("to started", "crawl", "to seen")
        return ", ".join(f"{name} {1000 * statistics.median(p[i] for p in recent):.0f} ms"
                         for i, name in enumerate(names))


# -- Scrapyd and ScrapyRT ----------------------------------------------------------------------


def scrapyd_times(scheme: dict[str, Any], repeat: int, work: Path) -> list[float]:
    """The same spider and scheme scheduled on Scrapyd (as shipped: poll_interval 5 s)."""
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    (work / "scrapyd.conf").write_text(
        f"[scrapyd]\nbind_address = 127.0.0.1\nhttp_port = {port}\n"
        f"eggs_dir = {work}/eggs\nlogs_dir = {work}/logs\nitems_dir =\ndbs_dir = {work}/dbs\n")
    # Scrapyd lists the projects of the [settings] section of the nearest scrapy.cfg, and runs
    # them from its working directory without an egg.
    (work / "scrapy.cfg").write_text("[settings]\ndefault = engine.settings\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CRAWLPLANE_DATA_DIR": str(work / "cp")}
    url = f"http://127.0.0.1:{port}"
    with process([str(BIN / "scrapyd")], cwd=work, env=env, stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL):
        wait_http(url + "/daemonstatus.json")

        def once() -> None:
            job = http("POST", url + "/schedule.json", form={
                "project": "default", "spider": "task", "scheme": json.dumps(scheme)})["jobid"]
            while True:
                jobs = http("GET", url + "/listjobs.json?project=default")
                if any(j["id"] == job for j in jobs["finished"]):
                    return
                time.sleep(0.01)

        return timed(repeat, once)


class ScrapyRT:
    """A ScrapyRT server running the same `task` spider, for runs interleaved with ours (one of
    theirs after each of ours: on a noisy machine both then see the same minutes)."""

    def __init__(self) -> None:
        self.port = free_port()
        env = {**os.environ, "CRAWLPLANE_DATA_DIR": tempfile.mkdtemp(prefix="cp-bench-rt-")}
        self.stack = contextlib.ExitStack()
        self.stack.enter_context(process(
            [str(BIN / "scrapyrt"), "-i", "127.0.0.1", "-p", str(self.port)], cwd=ROOT, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_http(f"http://127.0.0.1:{self.port}/crawl.json")

    def stop(self) -> None:
        self.stack.close()

    def crawl(self, scheme: dict[str, Any], expect_items: int) -> None:
        answer = http("GET", f"http://127.0.0.1:{self.port}/crawl.json?" + urllib.parse.urlencode({
            "spider_name": "task", "start_requests": "true",
            "crawl_args": json.dumps({"scheme": json.dumps(scheme)})}))
        assert answer["status"] == "ok", answer
        assert len(answer["items"]) == expect_items, len(answer["items"])

    def burst(self, site: TestSite, n: int) -> float:
        """Seconds for the `n` one-page crawls of `burst_ours`, requested at once."""
        from concurrent.futures import ThreadPoolExecutor

        start = time.perf_counter()
        with ThreadPoolExecutor(n) as pool:
            list(pool.map(lambda i: self.crawl(one_page(site, 100 + i), 1), range(n)))
        return time.perf_counter() - start


# -- load: GET /v1/tasks/{id} -------------------------------------------------------------------


async def _worker(host: str, port: int, request: bytes, until: float,
                  latencies: list[float]) -> None:
    # (a listing of 100 tasks is over asyncio's default 64 KiB line limit)
    reader, writer = await asyncio.open_connection(host, port, limit=4 * 1024 * 1024)
    try:
        while time.perf_counter() < until:
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head[:100]
            if b"chunked" in head.lower():
                await reader.readuntil(b"\r\n0\r\n\r\n")
            else:
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
    finally:
        writer.close()


def one_page(site: TestSite, n: int) -> dict[str, Any]:
    scheme = gen_scheme(site, 1)
    scheme["start_urls"] = [site.abs(f"/gen/{n}.html")]
    del scheme["follow"]
    return scheme


def burst_ours(server: Crawlplane, site: TestSite, n: int, tag: str) -> float:
    """Seconds from the first of `n` one-page tasks POSTed at once to all completed."""
    from concurrent.futures import ThreadPoolExecutor

    start = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        list(pool.map(lambda i: server.call("POST", "/v1/tasks", {
            "scheme": one_page(site, 100 + i), "tag": tag}), range(n)))
    while True:
        tasks = server.call("GET", f"/v1/tasks?take=100&tag={tag}")["data"]
        if all(t["status"] not in ("queued", "running") for t in tasks):
            elapsed = time.perf_counter() - start
            assert all(t["status"] == "completed" and t["items"] == 1 for t in tasks), tasks
            return elapsed
        time.sleep(0.01)


def load(url: str, key: str, duration: float, connections: int) -> tuple[float, float]:
    """Requests per second and p99 latency (ms) of GET `url` over keep-alive connections:
    with wrk where it is installed (as issue 16 measured), else with a Python client, which
    tops out near 1,300 req/s here and so flatters every ratio to /health (it measures itself:
    /health 1,300 req/s against wrk's 3,000 on the same server, task reads 0.69x against
    0.50x). `LOAD_CLIENT` says which one measured."""
    if WRK:
        return _wrk(url, key, duration, connections)
    return _python_load(url, key, duration, connections)


WRK = shutil.which("wrk")
LOAD_CLIENT = "wrk" if WRK else "a Python client (install wrk for figures as issue 16's)"


def _wrk(url: str, key: str, duration: float, connections: int) -> tuple[float, float]:
    assert WRK is not None
    out = subprocess.run(
        [WRK, "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency",
         "-H", f"X-API-KEY: {key}", url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise AssertionError(f"wrk got answers other than 2xx from {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return rps, float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _python_load(url: str, key: str, duration: float, connections: int) -> tuple[float, float]:
    parts = urllib.parse.urlsplit(url)
    target = f"{parts.path}?{parts.query}" if parts.query else parts.path
    request = (f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nX-API-KEY: {key}\r\n"
               f"\r\n").encode()
    latencies: list[float] = []

    async def main() -> None:
        until = time.perf_counter() + duration
        await asyncio.gather(*(_worker(parts.hostname or "", parts.port or 80, request, until,
                                       latencies) for _ in range(connections)))

    start = time.perf_counter()
    asyncio.run(main())
    elapsed = time.perf_counter() - start
    latencies.sort()
    return len(latencies) / elapsed, latencies[int(len(latencies) * 0.99)] * 1000


# -- main -------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pause", type=float, default=3.0,
                        help="seconds between runs, for the next warm worker to be ready")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per load run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--crawl-pages", type=int, default=5000)
    parser.add_argument("--no-scrapyd", action="store_true")
    parser.add_argument("--no-scrapyrt", action="store_true")
    parser.add_argument("--no-load", action="store_true")
    parser.add_argument("--streams", type=int, default=0,
                        help="open this many event streams for the streams comparison")
    parser.add_argument("--burst", type=int, default=20, help="one-page tasks created at once")
    parser.add_argument("--list-tasks", type=int, default=300)
    parser.add_argument("--store-url", default="", help="the server's store (default SQLite)")
    parser.add_argument("--postgres", action="store_true",
                        help="the store on a fresh PostgreSQL database (tests/pg.py); with "
                             "--repeat 0, the reads alone")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cp-bench-"))
    with contextlib.ExitStack() as stack, \
            TestSite.start(gen_pages=max(args.crawl_pages, args.pages)) as site:
        store_url = args.store_url
        if args.postgres:  # a fresh database of tests/pg.py's cluster
            from tests import pg

            store_url = stack.enter_context(pg.fresh_database("crawlplane_bench"))
        server = Crawlplane(work / "crawlplane", store_url)
        try:
            time.sleep(2)  # the warm worker is ready
            if args.streams:
                streams_test(server, site, args)
            if not args.repeat:
                if args.postgres or args.store_url:  # reads alone, on that store
                    load_test(server, site, args)
                return 0
            scheme = gen_scheme(site, args.pages)
            rt = None
            if not args.no_scrapyrt and ensure_installed("scrapyrt", "scrapyrt"):
                rt = ScrapyRT()
                stack.callback(rt.stop)
                rt.crawl(scheme, args.pages)  # warm-up (its first crawl imports the engine)
            server.run_until_completed(scheme, args.pages)  # warm-up
            # A server with its warm worker ready, each run followed by ScrapyRT's (after the
            # same pause), then ours back to back.
            ours, theirs_rt = [], []
            for _ in range(args.repeat):
                ours += timed(1, lambda: server.run_until_completed(scheme, args.pages),
                              pause=args.pause)
                if rt is not None:
                    theirs_rt += timed(1, lambda: rt.crawl(scheme, args.pages), pause=args.pause)
            busy = timed(args.repeat, lambda: server.run_until_completed(scheme, args.pages))
            print(f"\n1. POST until completed, {args.pages} pages")
            print(f"   crawlplane  {summary(ours)}  (warm worker ready)")
            print(f"   crawlplane  {summary(busy)}  (back to back)")
            print(f"   phases      {server.phase_summary()}  (back to back)")
            if not args.no_scrapyd and ensure_installed("scrapyd", "scrapyd"):
                theirs = scrapyd_times(scheme, max(2, args.repeat // 2), work / "scrapyd")
                print(f"   scrapyd     {summary(theirs)}")
                ratio = statistics.median(ours) / statistics.median(theirs)
                print(f"   ratio to Scrapyd  {ratio:.3f}  (target <= 0.05)")
            if rt is not None:
                print(f"   scrapyrt    {summary(theirs_rt)}  (each after one of ours)")
                ratio = statistics.median(ours) / statistics.median(theirs_rt)
                print(f"   ratio to ScrapyRT {ratio:.3f}  (target <= 0.7)")
                n = args.burst
                rt.burst(site, n)  # warm-up
                ours_burst, rt_burst = [], []
                for i in range(args.repeat):
                    time.sleep(args.pause)
                    ours_burst.append(burst_ours(server, site, n, f"burst{i}"))
                    time.sleep(args.pause)
                    rt_burst.append(rt.burst(site, n))
                print(f"\n2. A burst of {n} one-page tasks at once, until all completed")
                print(f"   crawlplane  {summary(ours_burst)}")
                print(f"   scrapyrt    {summary(rt_burst)}  (each after one of ours)")
                ratio = statistics.median(ours_burst) / statistics.median(rt_burst)
                print(f"   ratio to ScrapyRT {ratio:.3f}  (target <= 1.0)")
            if not args.no_load:
                load_test(server, site, args)
        finally:
            server.stop()
    return 0


def load_test(server: Crawlplane, site: TestSite, args: argparse.Namespace) -> None:
    idle_task = server.call("POST", "/v1/tasks", {"scheme": gen_scheme(site, 1), "run": False})
    idle_url = f"{server.url}/v1/tasks/{idle_task['id']}"
    for _ in range(args.list_tasks):
        server.call("POST", "/v1/tasks", {"scheme": gen_scheme(site, 1), "run": False})
    list_url = f"{server.url}/v1/tasks?take=100"
    load(idle_url, server.key, 1.0, args.connections)  # warm-up
    health_rps, health_p99 = load(f"{server.url}/health", server.key, args.duration,
                                  args.connections)
    idle_rps, idle_p99 = load(idle_url, server.key, args.duration, args.connections)
    list_rps, list_p99 = load(list_url, server.key, args.duration, args.connections)
    print(f"\n3. Reads, {args.connections} keep-alive connections, {args.duration:.0f} s each, "
          f"by {LOAD_CLIENT}")
    print(f"   GET /health                {health_rps:7.0f} req/s  p99 {health_p99:6.1f} ms")
    print(f"   GET /v1/tasks/{{id}}         {idle_rps:7.0f} req/s  p99 {idle_p99:6.1f} ms  "
          f"{idle_rps / health_rps:.2f}x /health (target >= 0.5)")
    print(f"   GET /v1/tasks?take=100     {list_rps:7.0f} req/s  p99 {list_p99:6.1f} ms  "
          f"{list_rps / health_rps:.2f}x /health (target >= 0.15; {args.list_tasks + 1}+ "
          "tasks)")

    crawl = server.call("POST", "/v1/tasks", {
        "scheme": gen_scheme(site, args.crawl_pages, concurrency=32)})
    crawl_url = f"{server.url}/v1/tasks/{crawl['id']}"
    task = crawl
    while task["status"] != "running" or (task["pages"] or 0) < 50:
        time.sleep(0.05)
        task = server.call("GET", f"/v1/tasks/{crawl['id']}")
    pages_before, start = task["pages"], time.perf_counter()
    busy_rps, busy_p99 = load(crawl_url, server.key, args.duration, args.connections)
    task = server.call("GET", f"/v1/tasks/{crawl['id']}")
    rate = (task["pages"] - pages_before) / (time.perf_counter() - start)
    print(f"   GET /v1/tasks/{{id}} crawl  {busy_rps:7.0f} req/s  p99 {busy_p99:6.1f} ms  "
          f"(crawl {task['status']} at {rate:.0f} pages/s meanwhile)")
    print(f"   ratio busy/idle  {busy_rps / idle_rps:.2f}  (target >= 0.9, p99 <= 25 ms)")
    while task["status"] in ("queued", "running"):
        time.sleep(0.5)
        task = server.call("GET", f"/v1/tasks/{crawl['id']}")
    print(f"   the {args.crawl_pages}-page crawl: {task['status']}, {task['pages']} pages "
          f"in {task['elapsed']:.1f} s ({task['pages'] / task['elapsed']:.0f} pages/s)")


async def _hold_streams(host: str, port: int, paths: list[str], key: str,
                        opened: asyncio.Event, stop: asyncio.Event) -> None:
    """Open an event stream on each path and keep reading them until `stop`."""
    conns = []
    for path in paths:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nX-API-KEY: {key}\r\n"
                     f"Accept: text/event-stream\r\n\r\n".encode())
        conns.append((reader, writer))
    for reader, _ in conns:
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head[:100]

    async def drain(reader: asyncio.StreamReader) -> None:
        while not stop.is_set():
            if not await reader.read(4096):
                return

    readers = [asyncio.ensure_future(drain(r)) for r, _ in conns]
    opened.set()
    await stop.wait()
    for task in readers:
        task.cancel()
    for _, writer in conns:
        writer.close()


def streams_test(server: Crawlplane, site: TestSite, args: argparse.Namespace) -> None:
    target = server.call("POST", "/v1/tasks", {"scheme": gen_scheme(site, 1), "run": False})
    url = f"{server.url}/v1/tasks/{target['id']}"
    # The streams watch 20 idle tasks (10 streams each): 20 watches, one poll per interval.
    watched = [server.call("POST", "/v1/tasks", {"scheme": gen_scheme(site, 1), "run": False})
               for _ in range(20)]
    paths = [f"/v1/tasks/{watched[i % 20]['id']}/events" for i in range(args.streams)]
    load(url, server.key, 1.0, args.connections)  # warm-up
    none_rps, none_p99 = load(url, server.key, args.duration, args.connections)
    parts = urllib.parse.urlsplit(server.url)
    loop = asyncio.new_event_loop()
    opened, stop = asyncio.Event(), asyncio.Event()
    holder = loop.create_task(_hold_streams(parts.hostname or "", parts.port or 80, paths,
                                            server.key, opened, stop))
    import threading

    thread = threading.Thread(target=loop.run_until_complete, args=(holder,), daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not opened.is_set() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    with_rps, with_p99 = load(url, server.key, args.duration, args.connections)
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)
    print(f"\n3. GET /v1/tasks/{{id}}, {args.connections} keep-alive connections, "
          f"{args.duration:.0f} s, by {LOAD_CLIENT}")
    print(f"   no event streams   {none_rps:7.0f} req/s  p99 {none_p99:6.1f} ms")
    print(f"   {args.streams} open streams  {with_rps:7.0f} req/s  p99 {with_p99:6.1f} ms")
    print(f"   ratio              {with_rps / none_rps:.2f}  (target >= 0.9)")


if __name__ == "__main__":
    sys.exit(main())
