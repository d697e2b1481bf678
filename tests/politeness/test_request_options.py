"""Per-task request options: size, redirect and time limits, retry policy and its delay,
default headers and cookies, all against the real test site."""

from __future__ import annotations

from tests.politeness.crawl import crawl, gaps, scheme
from tests.site.fixture import TestSite


def test_limits_end_the_page_and_the_crawl_goes_on(site: TestSite) -> None:
    big, hops, slow = (site.abs("/big/?kb=64&t=lim"), site.abs("/redirect/5/?t=lim"),
                       site.abs("/slow/?delay=3&t=lim"))
    fine = site.abs("/links/7/?t=lim")
    request = {"max_response_kb": 16, "max_redirects": 2, "timeout_s": 0.5,
               "retry": {"policy": "skip"}}
    result = crawl(scheme([big, hops, slow, fine], politeness={"obey_robots": False},
                          request=request))
    for url in (big, hops, slow):
        page = result.page(url)
        assert page.state == "Handled" and page.error, page
    assert "max size (16384)" in (result.page(big).error or "")
    assert "max redirections" in (result.page(hops).error or "")
    assert (result.page(slow).error or "").startswith("DownloadTimeoutError")
    assert len(result.page(hops).attempts) == 3  # the start and two hops, then it stopped
    assert result.page(fine).http_status == 200 and result.page(fine).error is None


def test_retry_delay(site: TestSite) -> None:
    url = site.abs("/flaky/retrydelay/?fail=2&t=retry")
    result = crawl(scheme([url], politeness={"obey_robots": False},
                          request={"retry": {"policy": "retry", "limit": 2, "delay_ms": 300}}))
    page = result.page(url)
    assert [a["HttpStatusCode"] for a in page.attempts] == [500, 500, 200]
    measured = gaps([e["time"] for e in site.log("/flaky/retrydelay/")])
    assert len(measured) == 2 and all(0.3 <= g <= 0.3 + 0.15 for g in measured), measured


def test_skip_policy_does_not_retry(site: TestSite) -> None:
    url = site.abs("/flaky/skip/?fail=1&t=skip")
    result = crawl(scheme([url], politeness={"obey_robots": False},
                          request={"retry": {"policy": "skip", "limit": 2}}))
    assert [a["HttpStatusCode"] for a in result.page(url).attempts] == [500]
    assert len(site.log("/flaky/skip/")) == 1


def test_default_headers(site: TestSite) -> None:
    url = site.abs("/headers/?t=hdr")
    crawl(scheme([url], politeness={"obey_robots": False},
                 request={"headers": {"X-Crawl-Test": "yes", "User-Agent": "PoliteBot/1"}}))
    (entry,) = site.log("/headers/?t=hdr")
    assert entry["headers"]["x-crawl-test"] == ["yes"]
    assert entry["headers"]["user-agent"] == ["PoliteBot/1"]


def test_cookies_on_and_off(site: TestSite) -> None:
    for enabled in (True, False):
        tag = f"ck{int(enabled)}"
        urls = [site.abs(f"/cookies/set/?{tag}=1"), site.abs(f"/cookies/?t={tag}")]
        # One request at a time, so the second is sent after the first's Set-Cookie came back.
        crawl(scheme(urls, politeness={"obey_robots": False, "concurrency": 1},
                     request={"cookies": enabled}), {"CONCURRENT_REQUESTS": 1})
        (entry,) = site.log(f"/cookies/?t={tag}")
        assert (entry["headers"].get("cookie") == [f"{tag}=1"]) is enabled, entry["headers"]
