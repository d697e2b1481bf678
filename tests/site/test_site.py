"""Checks that the test site and its proxies behave as documented (real HTTP via urllib)."""

from __future__ import annotations

import base64
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.site.fixture import TestSite

DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


NO_REDIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


@pytest.fixture(scope="module")
def site() -> Iterator[TestSite]:
    with TestSite.start(gen_pages=100) as s:
        yield s


def fetch(
    url: str, opener: urllib.request.OpenerDirector = DIRECT, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_robots(site: TestSite) -> None:
    status, headers, body = fetch(site.url + "/robots.txt")
    assert status == 200
    assert body.decode().splitlines() == [
        "User-agent: *",
        "Disallow: /private/",
        "Crawl-delay: 0.5",
    ]
    assert fetch(site.url + "/private/secret/")[0] == 200


def test_quotes_and_truth(site: TestSite) -> None:
    status, headers, _ = fetch(site.url + "/quotes/", NO_REDIRECT)
    assert status == 302 and headers["Location"] == "/quotes/page/1/"
    quotes = site.truth("quotes")
    assert len(quotes) == 50 and len({q["author_slug"] for q in quotes}) == 8
    body = fetch(site.url + "/quotes/page/1/")[2].decode()
    assert body.count('<div class="quote">') == 10 and 'href="/quotes/page/2/"' in body
    assert '<li class="next">' not in fetch(site.url + "/quotes/page/5/")[2].decode()
    authors = site.truth("authors")
    page = fetch(site.url + quotes[0]["author_path"])[2].decode()
    assert authors[quotes[0]["author_slug"]]["born_date"] in page
    catalog = site.truth("catalog")
    assert len(catalog["categories"]) == 3
    prod = catalog["products"][0]
    page = fetch(site.url + prod["path"])[2].decode()
    assert prod["sku"] in page and prod["price"] in page
    assert fetch(site.url + "/catalog/garden/?page=3")[0] == 200
    assert fetch(site.url + "/catalog/garden/?page=4")[0] == 404


def test_redirects(site: TestSite) -> None:
    site.clear_log()
    status, _, body = fetch(site.url + "/redirect/3/")
    assert status == 200 and b"Redirect done" in body
    assert [e["path"] for e in site.log("/redirect")] == [
        "/redirect/3/",
        "/redirect/2/",
        "/redirect/1/",
        "/redirect/done/",
    ]
    status, headers, _ = fetch(site.url + "/redirect-loop/", NO_REDIRECT)
    assert status == 302 and headers["Location"] == "/redirect-loop/"


def test_binaries_and_status(site: TestSite) -> None:
    status, headers, body = fetch(site.url + "/image.png")
    assert headers["Content-Type"] == "image/png" and body.startswith(b"\x89PNG\r\n\x1a\n")
    assert fetch(site.url + "/img/101.png")[2].startswith(b"\x89PNG")
    assert fetch(site.url + "/data.pdf")[1]["Content-Type"] == "application/pdf"
    for code in (403, 404, 500, 503):
        assert fetch(f"{site.url}/status/{code}/")[0] == code
    assert 100_000 < len(fetch(site.url + "/big/?kb=100")[2]) < 105_000


def test_etag_304(site: TestSite) -> None:
    status, headers, _ = fetch(site.url + "/etag/a/")
    assert status == 200
    etag, lm = headers["ETag"], headers["Last-Modified"]
    status, _, body = fetch(site.url + "/etag/a/", headers={"If-None-Match": etag})
    assert status == 304 and body == b""
    assert fetch(site.url + "/etag/a/", headers={"If-Modified-Since": lm})[0] == 304
    old = "Sun, 01 Jan 2023 00:00:00 GMT"
    assert fetch(site.url + "/etag/a/", headers={"If-Modified-Since": old})[0] == 200
    assert fetch(site.url + "/etag/a/", headers={"If-None-Match": '"other"'})[0] == 200


def test_flaky(site: TestSite) -> None:
    codes = [fetch(site.url + "/flaky/k1/?fail=2")[0] for _ in range(4)]
    assert codes == [500, 500, 200, 200]


def test_slow_is_non_blocking(site: TestSite) -> None:
    import threading

    results: list[float] = []

    def slow() -> None:
        t = time.monotonic()
        fetch(site.url + "/slow/?delay=1")
        results.append(time.monotonic() - t)

    th = threading.Thread(target=slow)
    th.start()
    time.sleep(0.1)
    t = time.monotonic()
    assert fetch(site.url + "/links/1/")[0] == 200
    assert time.monotonic() - t < 0.5  # not blocked by the slow request
    th.join()
    assert 0.9 < results[0] < 3


def test_cookies_headers_links_gen(site: TestSite) -> None:
    import http.cookiejar

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(jar)
    )
    status, headers, _ = fetch(site.url + "/cookies/set/?a=1&b=two", opener)
    assert status == 200
    body = fetch(site.url + "/cookies/", opener)[2].decode()
    assert '<li class="cookie" data-name="a">1</li>' in body
    assert '<li class="cookie" data-name="b">two</li>' in body
    body = fetch(site.url + "/headers/", headers={"X-Hello": "world"})[2].decode()
    assert '<li class="header" data-name="x-hello">world</li>' in body
    body = fetch(site.url + "/links/?n=7")[2].decode()
    assert body.count('class="leaf"') == 7
    body = fetch(site.url + "/gen/5.html")[2].decode()
    assert '<div class="item"><h2>Item 5</h2>' in body and body.count('href="/gen/') == 10
    assert fetch(site.url + "/gen/100.html")[0] == 404
    body = fetch(site.url + "/gen/~t1/5.html")[2].decode()
    assert '<div class="item"><h2>Item 5</h2>' in body and body.count('href="/gen/~t1/') == 10
    assert fetch(site.url + "/gen/~t1/100.html")[0] == 404


def _via(proxy: str) -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy}))


def test_proxy_ok(site: TestSite) -> None:
    site.clear_log()
    status, _, body = fetch(site.url + "/links/3/", _via(site.proxies["proxy_ok"]))
    assert status == 200 and b"value-3" in body
    fetch(site.url + "/links/4/")
    log = site.log("/links")
    assert [(e["path"], e["via_proxy"]) for e in log] == [("/links/3/", True), ("/links/4/", False)]
    assert log[0]["method"] == "GET" and isinstance(log[0]["time"], float)


def test_proxy_auth(site: TestSite) -> None:
    site.clear_log()
    url = site.proxies["proxy_auth"]
    assert fetch(site.url + "/links/5/", _via(url.replace("user:pass@", "")))[0] == 407
    # urllib sends Proxy-Authorization from credentials in the proxy URL
    assert fetch(site.url + "/links/5/", _via(url))[0] == 200
    (entry,) = site.log("/links")
    auth = "Basic " + base64.b64encode(b"user:pass").decode()
    assert entry["via_proxy"] and entry["headers"]["x-test-proxy-auth"] == [auth]
    assert "proxy-authorization" not in entry["headers"]


def test_proxy_403_and_refused(site: TestSite) -> None:
    site.clear_log()
    assert fetch(site.url + "/links/1/", _via(site.proxies["proxy_403"]))[0] == 403
    with pytest.raises(urllib.error.URLError) as info:
        fetch(site.url + "/links/1/", _via(site.proxies["proxy_refused"]))
    assert isinstance(info.value.reason, ConnectionRefusedError)
    assert site.log("/links") == []
