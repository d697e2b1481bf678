"""Request gates through the test site's real proxies: rotation order, direct fallback,
exhaustion and connection limits, read back from DownloadInfo and the site's request log."""

from __future__ import annotations

from typing import Any

from tests.politeness.crawl import crawl, scheme
from tests.site.fixture import TestSite


def _proxy(urls: dict[str, str], names: list[str], direct: bool, limit: int = 4) -> dict[str, Any]:
    gates = [{"url": urls[n], "connections_limit": limit} for n in names]
    return {"use": True, "fallback_direct": direct, "gates": gates}


def _bare(url: str) -> str:
    return url.replace("user:pass@", "")


def _gate_attempts(attempts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The attempts through a gate, without a record of the refusal itself (if any)."""
    return [a for a in attempts if not (a["Error"] or "").startswith("GatesExhausted")]


def _requests(site: TestSite, tag: str) -> list[dict[str, Any]]:
    return [e for e in site.log("/") if e["path"].endswith(f"t={tag}")]


def test_rotation_order(site: TestSite) -> None:
    url = site.abs("/links/1/?t=rotate")
    p = site.proxies
    result = crawl(scheme([url], politeness={"obey_robots": False},
                          proxy=_proxy(p, ["proxy_refused", "proxy_403", "proxy_ok"], True)))
    page = result.page(url)
    assert page.state == "Handled" and page.http_status == 200
    tried = [(a["Proxy"], a["HttpStatusCode"]) for a in page.attempts]
    assert tried == [(p["proxy_refused"], None), (p["proxy_403"], 403), (p["proxy_ok"], 200)]
    assert "ConnectionRefused" in page.attempts[0]["Error"]
    assert all(a["ViaProxy"] for a in page.attempts)
    # Only the working proxy reached the site.
    assert [e["via_proxy"] for e in _requests(site, "rotate")] == [True]


def test_direct_fallback_last(site: TestSite) -> None:
    url = site.abs("/links/2/?t=direct")
    result = crawl(scheme([url], politeness={"obey_robots": False},
                          proxy=_proxy(site.proxies, ["proxy_403", "proxy_refused"], True)))
    page = result.page(url)
    assert page.state == "Handled" and page.http_status == 200
    assert [a["ViaProxy"] for a in page.attempts] == [True, True, False]
    assert page.attempts[-1]["Proxy"] is None
    assert [e["via_proxy"] for e in _requests(site, "direct")] == [False]


def test_exhausted_without_direct(site: TestSite) -> None:
    urls = [site.abs("/links/3/?t=exhaust"), site.abs("/links/4/?t=exhaust")]
    result = crawl(scheme(urls, politeness={"obey_robots": False},
                          proxy=_proxy(site.proxies, ["proxy_refused", "proxy_403"], False)))
    for url in urls:  # each page ends exhausted; the crawl goes on to the next
        page = result.page(url)
        assert page.state == "AllRequestGatesExhausted", page
        assert page.error is not None and page.error.startswith("GatesExhausted")
        assert [a["HttpStatusCode"] for a in _gate_attempts(page.attempts)] == [None, 403]
    assert _requests(site, "exhaust") == []  # the site never saw them


def test_site_status_exhausts_every_gate_and_credentials_stay_with_their_proxy(
    site: TestSite,
) -> None:
    # The site itself answers 403: every gate gets it in turn, then the page is exhausted.
    url = site.abs("/status/403/?t=creds")
    result = crawl(scheme([url], politeness={"obey_robots": False},
                          proxy=_proxy(site.proxies, ["proxy_auth"], True)))
    page = result.page(url)
    assert page.state == "AllRequestGatesExhausted"
    assert [(a["Proxy"], a["HttpStatusCode"]) for a in _gate_attempts(page.attempts)] == [
        (_bare(site.proxies["proxy_auth"]), 403), (None, 403)]
    via_proxy, direct = _requests(site, "creds")
    assert via_proxy["via_proxy"] and via_proxy["headers"]["x-test-proxy-auth"]
    assert not direct["via_proxy"]
    assert "proxy-authorization" not in direct["headers"]


def test_connection_limits(site: TestSite) -> None:
    # Two proxies with one connection each, four slow pages wanted at once: at most one
    # request in flight per proxy, so each proxy's requests reach the site >= 0.3 s apart.
    urls = [site.abs(f"/slow/?delay=0.3&i={i}&t=limit") for i in range(4)]
    p = site.proxies
    result = crawl(scheme(urls, politeness={"obey_robots": False, "concurrency": 4},
                          proxy=_proxy(p, ["proxy_ok", "proxy_auth"], False, limit=1)))
    proxies = [result.page(u).attempts[-1]["Proxy"] for u in urls]
    assert sorted(proxies) == sorted([p["proxy_ok"]] * 2 + [_bare(p["proxy_auth"])] * 2)
    log = _requests(site, "limit")
    assert len(log) == 4 and all(e["via_proxy"] for e in log)
    for through_auth in (True, False):
        times = sorted(e["time"] for e in log if ("x-test-proxy-auth" in e["headers"])
                       == through_auth)
        assert len(times) == 2 and times[1] - times[0] >= 0.3 - 0.03, times
    # ...while the two proxies did work side by side.
    first = sorted(e["time"] for e in log)
    assert first[1] - first[0] < 0.2, first


def test_retries_and_redirects_keep_their_gate(site: TestSite) -> None:
    flaky, hop = site.abs("/flaky/gate/?fail=1&t=keep"), site.abs("/redirect/1/?t=keep")
    p = site.proxies
    result = crawl(scheme([flaky, hop], politeness={"obey_robots": False},
                          request={"retry": {"policy": "retry", "limit": 1, "delay_ms": 0}},
                          proxy=_proxy(p, ["proxy_refused", "proxy_ok"], True)))
    for url, statuses in ((flaky, [None, 500, 200]), (hop, [None, 302, 200])):
        attempts = result.page(url).attempts
        assert [a["HttpStatusCode"] for a in attempts] == statuses
        assert [a["Proxy"] for a in attempts] == [p["proxy_refused"]] + [p["proxy_ok"]] * 2


def test_proxy_auth_failure_moves_on(site: TestSite) -> None:
    url = site.abs("/links/5/?t=auth")
    p = dict(site.proxies, bad_auth=site.proxies["proxy_auth"].replace("user:pass", "user:no"))
    result = crawl(scheme([url], politeness={"obey_robots": False},
                          proxy=_proxy(p, ["bad_auth", "proxy_auth"], False)))
    page = result.page(url)
    assert [a["HttpStatusCode"] for a in page.attempts] == [407, 200]
    (entry,) = _requests(site, "auth")
    assert entry["via_proxy"] and entry["headers"]["x-test-proxy-auth"]
