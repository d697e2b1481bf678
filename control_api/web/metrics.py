"""GET /metrics: Prometheus text format through prometheus-client, computed from the store.

`StoreCollector` runs a few aggregate queries (engine/store/metrics.py), cached for `ttl`
seconds, so that the numbers are the same whichever server answers and whichever crawl process
or node wrote the rows. Labels are few and bounded: run status, outcome, status class, webhook
kind and outcome; never a task id or a URL. Scraped in the thread pool (the queries block).

Protection (README "Metrics"): an API key like every endpoint, or the bearer token
`CRAWLPLANE_METRICS_TOKEN`, or none with `CRAWLPLANE_METRICS_PUBLIC=1`.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from twisted.web.iweb import IRequest

from engine.store import Store
from engine.store import metrics as queries
from engine.store.status import TASK_STATUSES, TERMINAL_STATUSES

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
STATUSES = tuple(s for s in TASK_STATUSES if s != "initialized") + ("paused",)


class StoreCollector(Collector):
    def __init__(self, store: Store, max_processes: int, ttl: float = 1.5):
        self.store = store
        self.max_processes = max_processes
        self.ttl = ttl
        self._lock = threading.Lock()
        self._cached: tuple[float, dict[str, Any]] | None = None

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] > self.ttl:
                self._cached = (now, queries.aggregates(self.store))
            return self._cached[1]

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot()
        runs = GaugeMetricFamily("crawlplane_runs", "Runs by status", labels=["status"])
        for status in sorted({*STATUSES, *s["runs_by_status"]}):
            runs.add_metric([status], s["runs_by_status"].get(status, 0))
        yield runs
        yield CounterMetricFamily("crawlplane_runs_started", "Runs that started",
                                  value=s["runs_started"])
        ended = CounterMetricFamily("crawlplane_runs_ended", "Runs that ended, by outcome",
                                    labels=["outcome"])
        for status in TERMINAL_STATUSES:
            ended.add_metric([status], s["runs_ended"].get(status, 0))
        yield ended
        yield CounterMetricFamily("crawlplane_pages", "Pages finished (any outcome)",
                                  value=s["pages"])
        yield CounterMetricFamily("crawlplane_pages_failed", "Pages that failed",
                                  value=s["pages_failed"])
        yield CounterMetricFamily("crawlplane_items", "Items scraped", value=s["items"])
        responses = CounterMetricFamily(
            "crawlplane_responses", "Download attempts by response status class (none: no "
            "response)", labels=["class"])
        for label in ("1xx", "2xx", "3xx", "4xx", "5xx", "none"):
            responses.add_metric([label], s["responses"].get(label, 0))
        yield responses
        cumulative = [(str(bound), n) for bound, n in s["latency_buckets"]]
        yield HistogramMetricFamily(
            "crawlplane_download_seconds", "Download time of each attempt",
            buckets=[*cumulative, ("+Inf", s["attempts"])], sum_value=s["latency_sum"])
        yield CounterMetricFamily("crawlplane_response_bytes", "Response body bytes received",
                                  value=s["bytes"])
        yield CounterMetricFamily("crawlplane_retries", "Attempts that retried a page",
                                  value=s["retries"])
        yield CounterMetricFamily("crawlplane_redirects", "Redirect hops followed",
                                  value=s["redirects"])
        yield CounterMetricFamily("crawlplane_robots_refusals", "Pages refused by robots.txt",
                                  value=s["robots_refusals"])
        hooks = CounterMetricFamily("crawlplane_webhook_deliveries",
                                    "Webhook delivery attempts by kind and outcome",
                                    labels=["kind", "outcome"])
        seen = {(kind, state): n for kind, state, n in s["webhook_deliveries"]}
        for kind in ("callback", "pingback", "postback"):
            for outcome in queries.DELIVERY_OUTCOMES:
                hooks.add_metric([kind, outcome], seen.get((kind, outcome), 0))
        yield hooks
        yield GaugeMetricFamily("crawlplane_launcher_slots_in_use",
                                "Active runs a launcher has taken", value=s["slots_in_use"])
        yield GaugeMetricFamily("crawlplane_launcher_slots",
                                "Crawl processes this server may run at once",
                                value=self.max_processes)
        yield GaugeMetricFamily("crawlplane_queue_depth", "Queued runs no launcher has taken",
                                value=s["queue_depth"])


class Metrics:
    """The /metrics registry and who may read it."""

    def __init__(self, store: Store, max_processes: int, token: str = "",
                 public: bool = False, ttl: float = 1.5):
        self.registry = CollectorRegistry(auto_describe=False)
        self.collector = StoreCollector(store, max_processes, ttl)
        self.registry.register(self.collector)
        self.token = token
        self.public = public

    def render(self) -> bytes:
        """In a thread: the exposition (its queries block)."""
        return generate_latest(self.registry)

    def token_ok(self, request: IRequest) -> bool:
        """The bearer token matches (constant time)."""
        header = request.getHeader(b"authorization") or b""
        if not self.token or not header.lower().startswith(b"bearer "):
            return False
        return hmac.compare_digest(header[7:].strip(), self.token.encode())
