"""POST /v1/preview: one page through the engine, extracted, nothing created."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.site.fixture import TestSite
from tests.support.server import Server


def quotes(site: TestSite) -> dict[str, Any]:
    return {
        "start_urls": [site.abs("/quotes/page/1/")],
        "item": {"selector": "CSS: div.quote", "fields": [
            {"name": "text", "selector": "CSS: span.text"},
            {"name": "tags", "selector": "CSS: a.tag", "many": True},
            {"name": "about", "selector": "CSS: small.author + a", "attr": "href",
             "follow": {"fields": [{"name": "born", "selector": "CSS: .author-born-date"}]}},
        ]},
        "paginate": {"selector": "CSS: li.next a"},
        "follow": [{"selector": "CSS: a.tag", "max_depth": 1}],
        "politeness": {"obey_robots": False},
    }


def test_preview_extracts_one_page_and_creates_nothing(api: Server, site: TestSite) -> None:
    before = api.ok("GET", "/v1/tasks")["data"]
    site.clear_log()
    answer = api.ok("POST", "/v1/preview", {"scheme": quotes(site),
                                            "url": site.abs("/quotes/page/2/")})
    truth = [q for q in site.truth("quotes") if q["page"] == 2]
    assert [i["text"] for i in answer["items"]] == [q["text"] for q in truth]
    assert answer["items"][0]["about"]["url"].startswith(site.abs("/author"))  # not fetched
    assert answer["links"]["paginate"] == [site.abs("/quotes/page/3/")]
    assert answer["links"]["follow"] and all("/tag/" in u for u in answer["links"]["follow"])
    download = answer["download"]
    assert download["HttpStatusCode"] == 200 and download["IsSuccess"] is True
    assert download["Url"] == site.abs("/quotes/page/2/")
    assert [e["path"] for e in site.log("/quotes")] == ["/quotes/page/2/"]  # one page only
    assert api.ok("GET", "/v1/tasks")["data"] == before


def test_preview_records_redirect_hops(api: Server, site: TestSite) -> None:
    answer = api.ok("POST", "/v1/preview", {"scheme": quotes(site), "url": site.abs("/quotes/")})
    hops = [(a["Url"], a["HttpStatusCode"]) for a in answer["attempts"]]
    assert hops == [(site.abs("/quotes/"), 302), (site.abs("/quotes/page/1/"), 200)]
    assert len(answer["items"]) == 10


def test_preview_start_urls_optional_and_warm_is_fast(api: Server, site: TestSite) -> None:
    scheme = {k: v for k, v in quotes(site).items() if k != "start_urls"}
    body = {"scheme": scheme, "url": site.abs("/quotes/page/1/")}
    api.ok("POST", "/v1/preview", body)
    times = []
    for _ in range(5):
        started = time.monotonic()
        api.ok("POST", "/v1/preview", body)
        times.append(time.monotonic() - started)
    assert min(times) < 1.0, times  # warm: no process start per preview


def test_preview_422_names_the_paths(api: Server, site: TestSite) -> None:
    bad = api.call("POST", "/v1/preview", {"scheme": {
        "item": {"fields": [{"name": "t", "selector": "CSS: [["}]}, "bogus": 1},
        "url": "ftp://example.com/"})
    assert bad.status == 422
    errors = bad.json["errors"]
    assert "url" in errors and "scheme.bogus" in errors
    assert any(p.startswith("scheme.item.fields[0].selector") for p in errors), errors
    missing = api.call("POST", "/v1/preview", {"scheme": quotes(site)})
    assert missing.status == 422 and "url" in missing.json["errors"]
    assert api.call("POST", "/v1/preview", {"scheme": quotes(site), "url": site.abs("/")},
                    key=None).status == 401


def test_preview_outbound_refused(tmp_path: Path, site: TestSite) -> None:
    server = Server(tmp_path, allow_private=False)
    server.create_key("alice")
    server.start()
    try:
        for url in (site.abs("/quotes/page/1/"), "http://169.254.169.254/latest/"):
            refused = server.call("POST", "/v1/preview", {"scheme": quotes(site), "url": url})
            assert refused.status == 422, refused.body
            assert refused.json["errors"]["url"][0].startswith("refused:")
    finally:
        server.stop()


def test_preview_guards_redirects_inside_the_crawl(api: Server, site: TestSite) -> None:
    """A page that redirects to a local scheme: refused in the crawl, recorded as the error."""
    scheme = {**quotes(site), "item": {"fields": [{"name": "t", "selector": "CSS: h1"}]}}
    answer = api.ok("POST", "/v1/preview", {"scheme": scheme,
                                            "url": site.abs("/outbound/schemes/redirect/")})
    assert answer["items"] == [] and "refused" in (answer["error"] or "")
