"""A stored run (`-a task_id= -a run_id=`): pages, their DownloadInfo and the items in the store,
checked against what the test site's request log saw."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest

from tests.engine.conftest import StoredCrawl, stored_crawl
from tests.site.fixture import TestSite

HEADER = "X-Crawlplane-Test"


@pytest.fixture(scope="module")
def run(site: TestSite, tmp_path_factory: pytest.TempPathFactory) -> StoredCrawl:
    base = site.url
    scheme = {
        "start_urls": [
            f"{base}/redirect/3/",
            f"{base}/flaky/{uuid.uuid4().hex}/?fail=1",
            f"{base}/status/404/",
            f"{base}/status/500/",
            f"{base}/image.png",
            f"{base}/private/secret/",
            f"{base}/slow/?delay=0.8",
            f"{base}/slow/?delay=0.8&body=1",
            f"{base}/slow/?delay=5",
            f"{base}/cookies/set/?a=1&b=two",
            f"{base}/redirect-loop/",
            f"{base}/links/?n=2",
        ],
        "item": {"fields": [
            {"name": "h1", "selector": "XPATH: //h1"},
            {"name": "value", "selector": "CSS: .value"},
            # Only on the page that sets cookies: a link to /cookies/, which echoes the cookies
            # the crawler sends (a detail page, so it is fetched after the cookies were set).
            {"name": "jar",
             "selector": "XPATH: substring('/cookies/', 1, 9 * count(//li[@class='set-cookie']))",
             "filters": [{"name": "regex", "param": "^(.*/cookies/)$"}],
             "follow": {"fields": [{"name": "sent", "selector": "CSS: li.cookie", "many": True}]}},
        ]},
        "politeness": {"concurrency": 4},
        "request": {"headers": {HEADER: "yes"}, "timeout_s": 1.5, "max_redirects": 3,
                    "retry": {"limit": 1, "delay_ms": 0}},
    }
    result = stored_crawl(site, scheme, tmp_path_factory.mktemp("stored"))
    assert result.returncode == 0, result.log[-3000:]
    return result


def logged(run: StoredCrawl, path: str) -> list[dict[str, Any]]:
    return [e for e in run.site_log if e["path"] == path]


def test_run_row(run: StoredCrawl) -> None:
    row = run.run()
    assert row["status"] == "completed" and row["error"] is None
    pages = run.pages()
    assert row["pages"] == len(pages) == 13  # 12 start URLs and the /cookies/ detail page
    assert row["items"] == len(run.stored_items()) == len(run.items()) == 6
    assert row["queued"] == 0 and row["started_at"] <= row["ended_at"]


def test_items_in_store_match_the_feed(run: StoredCrawl) -> None:
    def key(item: dict[str, Any]) -> str:
        return str(item["h1"])

    assert sorted(run.stored_items(), key=key) == sorted(run.items(), key=key)


def test_redirect_hops_are_earlier_attempts(site: TestSite, run: StoredCrawl) -> None:
    page = run.page(f"{site.url}/redirect/3/")
    assert page["state"] == "Handled" and page["http_status"] == 200
    infos = run.infos(page["url"])
    paths = ["/redirect/3/", "/redirect/2/", "/redirect/1/", "/redirect/done/"]
    assert [i["Url"] for i in infos] == [site.url + p for p in paths]
    assert [i["HttpStatusCode"] for i in infos] == [302, 302, 302, 200]
    assert [i["ReasonPhrase"] for i in infos] == ["Found", "Found", "Found", "OK"]
    assert [i["IsSuccess"] for i in infos] == [False, False, False, True]
    assert infos[0]["ResponseHeaders"] and any(
        h["Name"] == "Location" and h["Values"] == ["/redirect/2/"]
        for h in infos[0]["ResponseHeaders"]
    )
    assert all(len(logged(run, p)) == 1 for p in paths)


def test_retries_are_earlier_attempts(site: TestSite, run: StoredCrawl) -> None:
    (flaky,) = [p for p in run.pages() if "/flaky/" in p["url"]]
    infos = run.infos(flaky["url"])
    assert [i["HttpStatusCode"] for i in infos] == [500, 200]
    assert [i["ReasonPhrase"] for i in infos] == ["Internal Server Error", "OK"]
    assert len(logged(run, flaky["url"].removeprefix(site.url))) == 2
    assert flaky["http_status"] == 200


def test_error_pages_are_recorded(site: TestSite, run: StoredCrawl) -> None:
    not_found = run.page(f"{site.url}/status/404/")
    assert (not_found["state"], not_found["http_status"]) == ("Handled", 404)
    assert [(i["HttpStatusCode"], i["ReasonPhrase"], i["IsSuccess"])
            for i in run.infos(not_found["url"])] == [(404, "Not Found", False)]
    error = run.page(f"{site.url}/status/500/")
    assert (error["state"], error["http_status"]) == ("Handled", 500)
    infos = run.infos(error["url"])
    assert [i["HttpStatusCode"] for i in infos] == [500, 500]  # retried once, as the scheme says
    assert len(logged(run, "/status/500/")) == 2


def test_redirect_loop_is_recorded(site: TestSite, run: StoredCrawl) -> None:
    page = run.page(f"{site.url}/redirect-loop/")
    assert page["state"] == "Handled" and page["http_status"] is None
    assert "redirect" in page["error"]
    infos = run.infos(page["url"])
    assert [i["HttpStatusCode"] for i in infos] == [302] * 4  # the first and 3 redirects
    assert len(logged(run, "/redirect-loop/")) == 4


def test_robots_denied_page(site: TestSite, run: StoredCrawl) -> None:
    page = run.page(f"{site.url}/private/secret/")
    assert page["state"] == "AccessDeniedForRobots"
    assert run.infos(page["url"]) == []  # nothing was sent
    assert not [e for e in run.site_log if e["path"].startswith("/private/")]
    assert len(logged(run, "/robots.txt")) == 1


def test_non_html_page_is_recorded_and_the_crawl_goes_on(site: TestSite, run: StoredCrawl) -> None:
    page = run.page(f"{site.url}/image.png")
    assert (page["state"], page["http_status"], page["content_type"]) == ("Handled", 200,
                                                                           "image/png")
    assert [i["IsSuccess"] for i in run.infos(page["url"])] == [True]
    assert {i["h1"] for i in run.items()} >= {"Links", "Redirect done", "Cookies set"}


def test_slow_pages(site: TestSite, run: StoredCrawl) -> None:
    (info,) = run.infos(f"{site.url}/slow/?delay=0.8")
    assert info["IsSuccess"] and 0.75 <= info["DownloadTimeSec"] < 3
    timed_out = run.page(f"{site.url}/slow/?delay=5")
    assert timed_out["http_status"] is None and "TimeoutError" in timed_out["error"]
    infos = run.infos(timed_out["url"])
    assert len(infos) == 2 and all("TimeoutError" in i["Error"] for i in infos)
    assert all(1.4 <= i["DownloadTimeSec"] < 4 for i in infos)


def test_a_slow_body_is_timed_from_the_send(site: TestSite, run: StoredCrawl) -> None:
    # The headers come at once and the body 0.8 s later: the attempt began when the site got
    # the request, and lasted until the body came.
    path = "/slow/?delay=0.8&body=1"
    (info,) = run.infos(site.url + path)
    (entry,) = logged(run, path)
    sent = datetime.fromisoformat(info["RequestDateUtc"].replace("Z", "+00:00"))
    assert abs(sent.timestamp() - entry["time"]) < 0.3, (info, entry["time"])
    assert info["IsSuccess"] and 0.75 <= info["DownloadTimeSec"] < 3


def test_cookies_set_and_sent(site: TestSite, run: StoredCrawl) -> None:
    (info,) = run.infos(f"{site.url}/cookies/set/?a=1&b=two")
    cookies = {c["Name"]: c for c in info["ResponseCookies"]}
    assert cookies["a"] == {"Name": "a", "Value": "1", "Domain": "127.0.0.1", "Path": "/",
                            "HttpOnly": True, "Secure": False, "Expires": None}
    assert cookies["b"]["Value"] == "two" and not cookies["b"]["HttpOnly"]
    detail = run.page(f"{site.url}/cookies/")
    assert detail["parent_id"] == run.page(f"{site.url}/cookies/set/?a=1&b=two")["id"]
    (sent,) = run.infos(detail["url"])
    assert {(c["Name"], c["Value"]) for c in sent["RequestCookies"]} == {("a", "1"), ("b", "two")}
    (entry,) = logged(run, "/cookies/")
    assert sorted(entry["headers"]["cookie"][0].split("; ")) == ["a=1", "b=two"]
    (item,) = [i for i in run.items() if i["h1"] == "Cookies set"]
    assert item["jar"] == {"url": f"{site.url}/cookies/", "sent": ["1", "two"]}


def _headers(pairs: list[dict[str, Any]]) -> dict[str, list[str]]:
    return {h["Name"].lower(): h["Values"] for h in pairs}


def test_request_headers_are_what_the_site_saw(site: TestSite, run: StoredCrawl) -> None:
    checked = 0
    for page in run.pages():
        for info in run.infos(page["url"]):
            if info["Error"]:  # timed out: the site logged them, but answered nothing
                continue
            path = info["Url"].removeprefix(site.url)
            seen = [e["headers"] for e in logged(run, path)]
            assert _headers(info["RequestHeaders"]) in seen, path
            assert _headers(info["RequestHeaders"])[HEADER.lower()] == ["yes"]
            checked += 1
    assert checked >= 15


def test_timings_and_flags(site: TestSite, run: StoredCrawl) -> None:
    row = run.run()
    for page in run.pages():
        for info in run.infos(page["url"]):
            assert info["Method"] == "GET" and info["ViaProxy"] is False
            assert info["DownloadTimeSec"] >= 0 and info["WaitTimeSec"] >= 0
            assert info["CrawlDelaySec"] >= 0
            sent = datetime.fromisoformat(info["RequestDateUtc"].replace("Z", "+00:00"))
            assert row["started_at"] - 1 <= sent.timestamp() <= row["ended_at"]
            path = info["Url"].removeprefix(site.url)
            got = [e["time"] for e in logged(run, path)]  # when the site got it
            assert min(abs(sent.timestamp() - t) for t in got) < 0.5, path
