"""A scheme's politeness, request and proxy keys as Scrapy and Crawlplane settings."""

from __future__ import annotations

from typing import Any

from scrapy.settings import Settings

from engine.scheme import parse_scheme
from engine.task_settings import apply_scheme


def _settings(**sections: Any) -> Settings:
    settings = Settings()
    apply_scheme(settings, parse_scheme({"start_urls": ["http://example.com/"], **sections}))
    return settings


def test_fixed_delay_is_scrapys() -> None:
    s = _settings(politeness={"crawl_delay": 0.3})
    assert s.getfloat("DOWNLOAD_DELAY") == 0.3 and s.get("CRAWLPLANE_CRAWL_DELAY") is None


def test_ranged_and_robots_delays_are_the_middlewares() -> None:
    for spec in ("0.2-0.5", "robots"):
        s = _settings(politeness={"crawl_delay": spec})
        assert s.getfloat("DOWNLOAD_DELAY") == 0 and s.get("CRAWLPLANE_CRAWL_DELAY") == spec


def test_request_and_proxy_options() -> None:
    s = _settings(
        request={"verify_tls": False, "cookies": False, "retry": {"limit": 3, "delay_ms": 250}},
        proxy={"use": True, "fallback_direct": False, "rotate_on_status": [407],
               "gates": [{"url": "http://u:p@127.0.0.1:8080", "connections_limit": 2}]},
    )
    assert s.getbool("DOWNLOAD_VERIFY_CERTIFICATES") is False
    assert s.getbool("COOKIES_ENABLED") is False
    assert s.getint("RETRY_TIMES") == 3 and s.getfloat("CRAWLPLANE_RETRY_DELAY") == 0.25
    assert s.getlist("CRAWLPLANE_GATES") == [
        {"url": "http://u:p@127.0.0.1:8080", "connections_limit": 2}]
    assert s.getbool("CRAWLPLANE_GATES_DIRECT") is False
    assert s.getlist("CRAWLPLANE_GATES_ROTATE_ON") == [407]
    assert _settings().getbool("DOWNLOAD_VERIFY_CERTIFICATES") is True  # verify by default
    assert _settings(proxy={"use": False, "gates": s.getlist("CRAWLPLANE_GATES")}).getlist(
        "CRAWLPLANE_GATES") == []


def test_middleware_order() -> None:
    project = Settings()
    project.setmodule("engine.settings")
    order = project.getdict("DOWNLOADER_MIDDLEWARES")
    # retries and redirects (600) < gates < HttpProxyMiddleware (750); delay after robots.txt
    assert order["engine.downloadermiddlewares.retry_delay.DelayedRetryMiddleware"] == 550
    assert order["scrapy.downloadermiddlewares.retry.RetryMiddleware"] is None
    assert 600 < order["engine.downloadermiddlewares.gates.GateMiddleware"] < 750
    assert 750 < order["engine.downloadermiddlewares.crawl_delay.CrawlDelayMiddleware"] < 950
