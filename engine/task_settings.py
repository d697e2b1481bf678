"""Per-task Scrapy settings from a scheme: Scrapy's own components, configured per crawl."""

from __future__ import annotations

from typing import Any

from scrapy.settings import Settings

from engine.rendering import render_settings
from engine.scheme import Scheme


def apply_scheme(settings: Settings, scheme: Scheme) -> None:
    politeness, request, limits = scheme.politeness, scheme.request, scheme.limits
    delay = politeness.delay_range()
    values = {
        "ROBOTSTXT_OBEY": politeness.obey_robots,
        "CONCURRENT_REQUESTS": max(politeness.concurrency, 16),
        "CONCURRENT_REQUESTS_PER_DOMAIN": politeness.concurrency,
        # A fixed delay is Scrapy's own; ranges and robots.txt Crawl-delay are the
        # CrawlDelayMiddleware's (CRAWLPLANE_CRAWL_DELAY below).
        "DOWNLOAD_DELAY": delay[0] if delay and delay[0] == delay[1] else 0,
        "DOWNLOAD_DELAY_JITTER": 0,
        "DOWNLOAD_TIMEOUT": request.timeout_s,
        "DOWNLOAD_MAXSIZE": request.max_response_kb * 1024,
        "DOWNLOAD_WARNSIZE": 0,
        "REDIRECT_MAX_TIMES": request.max_redirects,
        "REDIRECT_ENABLED": request.max_redirects > 0,
        "RETRY_ENABLED": request.retry.policy == "retry" and request.retry.limit > 0,
        "RETRY_TIMES": request.retry.limit,
        "COOKIES_ENABLED": request.cookies,
        "CLOSESPIDER_TIMEOUT": limits.timeout_s,
        "CLOSESPIDER_ITEMCOUNT": limits.max_items or 0,
    }
    values.update(_politeness_and_gates(scheme))
    values.update(render_settings(settings, scheme))  # nothing when the scheme does not render
    for name, value in values.items():
        settings.set(name, value, priority="spider")
    if politeness.host_delays:  # over the installation's own, if any
        hosts = {**settings.getdict("CRAWLPLANE_HOST_DELAYS"), **politeness.host_delays}
        settings.set("CRAWLPLANE_HOST_DELAYS", hosts, priority="spider")
    if request.headers:
        headers = dict(settings.getdict("DEFAULT_REQUEST_HEADERS"))
        headers.update(request.headers)
        settings.set("DEFAULT_REQUEST_HEADERS", headers, priority="spider")
        if "User-Agent" in {k.title() for k in request.headers}:
            ua = next(v for k, v in request.headers.items() if k.title() == "User-Agent")
            settings.set("USER_AGENT", ua, priority="spider")


def _politeness_and_gates(scheme: Scheme) -> dict[str, Any]:
    """Settings of Crawlplane's own politeness and gate middlewares (engine/settings.py)."""
    delay = scheme.politeness.delay_range()
    proxy, request = scheme.proxy, scheme.request
    return {
        "CRAWLPLANE_CRAWL_DELAY": None if delay and delay[0] == delay[1]
        else str(scheme.politeness.crawl_delay),
        "CRAWLPLANE_GATES": [g.model_dump() for g in proxy.gates] if proxy.use else [],
        "CRAWLPLANE_GATES_DIRECT": proxy.fallback_direct,
        "CRAWLPLANE_GATES_ROTATE_ON": list(proxy.rotate_on_status),
        "CRAWLPLANE_RETRY_DELAY": request.retry.delay_ms / 1000,
        "DOWNLOAD_VERIFY_CERTIFICATES": request.verify_tls,
    }
