"""Outbound safety inside a crawl: a stored run requests only http and https URLs with a host.
Links, pagination, a field's detail link and a redirect to `file:`, `data:`, `ftp:` or `s3:`
URLs are refused before anything is downloaded, each recorded on its page with the reason; the
machine's files never reach the results. The server allows private targets here (the site is on
loopback), so only the scheme rule stands between the crawl and the files."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.conftest import ApiServer
from tests.site.fixture import TestSite

# Page URL (as the crawl requests it: Scrapy lower-cases the scheme) -> the refused scheme.
REFUSED = {
    "file:///etc/passwd": "file",          # a followed link and the detail link: two pages
    "file:///etc/passwd?upper": "file",    # linked as FILE:///etc/passwd?upper
    "file://localhost/etc/passwd": "file",
    "file:///proc/self/environ": "file",
    "file:///etc/passwd?page=2": "file",   # the next page
    "data:text/plain,secret": "data",
    "ftp://127.0.0.1/x": "ftp",
    "s3://bucket/key": "s3",
}
PASSWD = "root:x:0:0"


def scheme(site: TestSite) -> dict[str, Any]:
    return {
        "start_urls": [site.abs("/outbound/schemes/")],
        "item": {"fields": [
            {"name": "title", "selector": "CSS: h1"},
            {"name": "text", "selector": "CSS: body"},
            {"name": "detail", "selector": "CSS: a.detail", "many": True,
             "follow": {"fields": [{"name": "text", "selector": "CSS: body"}]}},
        ]},
        "paginate": {"selector": "CSS: a.next"},
        "follow": [{"selector": "CSS: li a", "max_depth": 1}],
        "politeness": {"obey_robots": False},
        "request": {"timeout_s": 20, "retry": {"policy": "skip"}},
    }


@pytest.fixture(scope="module")
def crawled(api: ApiServer, site: TestSite) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The finished task and its pages."""
    site.clear_log()
    task = api.create(scheme(site))
    final = api.wait(task["id"], timeout=60)
    pages = api.ok("GET", f"/v1/tasks/{task['id']}/pages?take=100")["data"]
    return final, pages


def test_no_host_file_reaches_the_results(api: ApiServer,
                                          crawled: tuple[dict[str, Any], Any]) -> None:
    task, _ = crawled
    assert task["status"] == "completed", task
    body = api.call("GET", f"/v1/tasks/{task['id']}/store?format=jsonl").body.decode()
    assert PASSWD not in body and "CRAWLPLANE_DATA_DIR" not in body
    items = [json.loads(line) for line in body.splitlines()]
    # Only the site's own pages gave items: none from a file, data or ftp URL.
    assert sorted(item["title"] for item in items) == ["Leaf 2", "Schemes"], items
    (listing,) = [item for item in items if item["title"] == "Schemes"]
    file_detail, site_detail = listing["detail"]
    assert file_detail == {"url": "file:///etc/passwd", "text": None}  # refused: no fields
    assert site_detail["text"] == "Leaf 3 value-3"  # the ordinary detail page was fetched


def test_each_non_http_page_is_refused_with_its_scheme(
        api: ApiServer, site: TestSite, crawled: tuple[dict[str, Any], list[dict[str, Any]]]
) -> None:
    _, pages = crawled
    by_url: dict[str, list[dict[str, Any]]] = {}
    for page in pages:
        by_url.setdefault(page["url"], []).append(page)
    assert len(by_url["file:///etc/passwd"]) == 2, by_url  # the followed and the detail link
    for url, kind in REFUSED.items():
        assert url in by_url, (url, sorted(by_url))
        for page in by_url[url]:
            assert page["http_status"] is None, page
            error = api.ok("GET", f"/api/v2/tasks/{page['id']}/info")["Error"] or ""
            assert "refused" in error and f"scheme '{kind}'" in error, (url, error)

    # The redirect hop reached the site; its file: target was refused, not followed.
    (hop,) = by_url[site.abs("/outbound/schemes/redirect/")]
    error = api.ok("GET", f"/api/v2/tasks/{hop['id']}/info")["Error"] or ""
    assert "refused" in error and "scheme 'file'" in error, error
    assert [e["path"] for e in site.log("/outbound/schemes/redirect/")] == [
        "/outbound/schemes/redirect/"]

    # The ordinary links are crawled; `http:///etc/passwd` is a path on the linking site.
    for path in ("/outbound/schemes/", "/links/2/", "/links/3/"):
        assert [p["http_status"] for p in by_url[site.abs(path)]] == [200], path
    assert [p["http_status"] for p in by_url[site.abs("/etc/passwd")]] == [404]
