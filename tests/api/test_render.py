"""Rendered pages through the API (the scheme's `render`, engine/rendering.py), in the machine's
Chromium: script-inserted listings with pagination, a delayed render, an infinite scroll on a
JSON endpoint and a click-to-load button give the site's ground truth; the same pages without
`render` give nothing (so rendering happened); a page's sub-resource, or a redirect hop Chromium
follows itself (http or https), on a forbidden host is never requested (the filtering proxy,
engine/render_proxy.py); https pages come through its tunnel; the page's proxy and
DownloadInfo apply as for plain requests.

The crawls start together (the server runs two at once) and are checked one by one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.api.conftest import ApiServer, start_server
from tests.site import rendered as r
from tests.site.fixture import TestSite
from tests.support.chromium import require_chromium
from tests.support.wait import wait_until


@pytest.fixture(autouse=True, scope="module")
def chromium() -> None:
    require_chromium()

ITEM = {"selector": "CSS: li.product", "fields": [
    {"name": "name", "selector": "CSS: h2"},
    {"name": "price", "selector": "CSS: span.price"},
]}
RENDER = {"wait_for": "CSS: li.product", "timeout_s": 20}


@pytest.fixture(scope="module")
def rapi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """A server whose Chromium resolves metadata.google.internal to the test site, so that a
    sub-resource there would reach the site's log if the outbound rules let it through."""
    server = start_server(tmp_path_factory.mktemp("render"), keys=("alice",),
                          CRAWLPLANE_CHROMIUM_ARGS="--host-resolver-rules=MAP "
                          "metadata.google.internal 127.0.0.1")
    yield server
    server.stop()


def scheme(site: TestSite, path: str, render: dict[str, Any] | None, **more: Any
           ) -> dict[str, Any]:
    body: dict[str, Any] = {"start_urls": [site.abs(path)], "item": ITEM,
                            "politeness": {"obey_robots": True, "concurrency": 4}, **more}
    if render is not None:
        body["render"] = render
    return body


CASES: dict[str, tuple[str, dict[str, Any] | None, dict[str, Any]]] = {
    "listing": ("/rendered/page/1/", RENDER, {"paginate": {"selector": "CSS: a.next"}}),
    "listing_plain": ("/rendered/page/1/", None, {"paginate": {"selector": "CSS: a.next"}}),
    "delayed": ("/rendered/delayed/", RENDER, {}),
    # a longer delay, so that a busy machine cannot take that long between load and snapshot
    "delayed_no_wait": ("/rendered/delayed/?ms=5000", {"timeout_s": 20}, {}),
    "scroll": ("/rendered/scroll/", {**RENDER, "actions": [
        {"scroll": "bottom", "repeat": 20, "wait_ms": 2000}]}, {}),
    "click": ("/rendered/click/", {"actions": [
        {"click": "XPATH: //button[@class='more']"}, {"wait_for": "CSS: p.done"}]}, {}),
}


@pytest.fixture(scope="module")
def crawls(rapi: ApiServer, site: TestSite) -> dict[str, dict[str, Any]]:
    """Each case's finished task, with its items."""
    started = {name: rapi.create(scheme(site, path, render, **more), name=name)
               for name, (path, render, more) in CASES.items()}
    done = {}
    for name, task in started.items():
        final = rapi.wait(task["id"], timeout=120)
        assert final["status"] == "completed", final
        text = rapi.call("GET", f"/v1/tasks/{task['id']}/store?format=jsonl").body.decode()
        final["rows"] = [line for line in text.splitlines() if line]
        done[name] = final
    return done


def names(task: dict[str, Any]) -> list[str]:
    import json

    return sorted(json.loads(row)["name"] for row in task["rows"])


def truth(products: list[dict[str, Any]]) -> list[str]:
    return sorted(p["name"] for p in products)


def test_rendered_listing_with_pagination_gives_the_ground_truth(
        crawls: dict[str, dict[str, Any]]) -> None:
    task = crawls["listing"]
    assert names(task) == truth(r.listing_truth())
    assert task["pages"] == r.PAGES  # the next links exist only in the rendered DOM


def test_without_render_the_same_pages_give_nothing(crawls: dict[str, dict[str, Any]]) -> None:
    assert crawls["listing_plain"]["items"] == 0 and crawls["listing_plain"]["pages"] == 1


def test_wait_for_waits_for_a_delayed_render(crawls: dict[str, dict[str, Any]]) -> None:
    assert names(crawls["delayed"]) == truth(r.products(100, 100 + r.DELAYED_ITEMS))
    assert crawls["delayed_no_wait"]["items"] == 0  # the load event comes before the items


def test_infinite_scroll_loads_every_batch(crawls: dict[str, dict[str, Any]]) -> None:
    assert names(crawls["scroll"]) == truth(r.products(0, r.SCROLL_TOTAL))


def test_click_loads_the_rest(crawls: dict[str, dict[str, Any]]) -> None:
    assert names(crawls["click"]) == truth(r.products(0, r.CLICK_TOTAL))


def test_download_info_is_the_main_documents(rapi: ApiServer,
                                             crawls: dict[str, dict[str, Any]]) -> None:
    task = crawls["delayed"]
    pages = rapi.ok("GET", f"/v1/tasks/{task['id']}/pages?take=10")["data"]
    assert [p["http_status"] for p in pages] == [200]
    info = rapi.ok("GET", f"/api/v2/tasks/{pages[0]['id']}/info")
    assert info["Error"] in (None, ""), info
    assert info["Url"].endswith("/rendered/delayed/"), info


def test_a_sub_resource_on_a_forbidden_host_is_never_requested(
        rapi: ApiServer, site: TestSite) -> None:
    port = site.url.rsplit(":", 1)[1]
    path = f"/rendered/outbound/?host=metadata.google.internal&port={port}"
    site.clear_log()
    task = rapi.create(scheme(site, path, RENDER))
    final = rapi.wait(task["id"], timeout=120)
    assert final["status"] == "completed" and final["items"] == 1, final
    probes = [e["path"] for e in site.log("/rendered/probe.png")]
    assert probes == ["/rendered/probe.png?allowed=1"], probes  # the forbidden one: aborted


def test_render_is_validated_with_paths(rapi: ApiServer, site: TestSite) -> None:
    bad = {"wait_for": "div", "timeout_s": 0, "actions": [
        {"click": "CSS: a", "wait_for": "CSS: b"}, {"scroll": "top"}, {"repeat": 2},
        {"wait_ms": -1}, {"hover": "CSS: a"}]}
    answer = rapi.call("POST", "/v1/tasks", {"scheme": scheme(site, "/", bad), "run": False})
    assert answer.status == 422, answer.body[:300]
    errors = answer.json["errors"]
    for path in ("scheme.render.wait_for", "scheme.render.timeout_s",
                 "scheme.render.actions[0]", "scheme.render.actions[1].scroll",
                 "scheme.render.actions[2]", "scheme.render.actions[3].wait_ms",
                 "scheme.render.actions[4].hover"):
        assert path in errors, (path, errors)


def test_a_gate_proxy_carries_the_rendered_page(rapi: ApiServer, site: TestSite) -> None:
    """scrapy-playwright ignores meta["proxy"]: the gate's proxy (credentials included)
    becomes the page's browser context's."""
    site.clear_log()
    proxy = {"use": True, "fallback_direct": False,
             "gates": [{"url": site.proxies["proxy_auth"]}]}
    task = rapi.create(scheme(site, "/rendered/delayed/", RENDER, proxy=proxy))
    final = rapi.wait(task["id"], timeout=120)
    assert final["status"] == "completed" and final["items"] == r.DELAYED_ITEMS, final
    entries = site.log("/rendered/delayed/")
    assert [e["via_proxy"] for e in entries] == [True], entries


def test_a_redirect_the_browser_follows_to_a_forbidden_host_is_refused(
        rapi: ApiServer, site: TestSite) -> None:
    port = site.url.rsplit(":", 1)[1]
    target = f"http://metadata.google.internal:{port}/rendered/probe.png?hop=1"
    site.clear_log()
    task = rapi.create(scheme(site, "/rendered/redirect/?" + urlencode({"to": target}),
                              {"timeout_s": 10}, request={"retry": {"policy": "skip"}}))
    final = rapi.wait(task["id"], timeout=120)
    assert final["items"] == 0, final
    assert site.log("/rendered/probe.png") == []  # the hop was aborted, never requested


def test_a_rendered_https_page_comes_through_the_browsers_tunnel(
        rapi: ApiServer, site: TestSite) -> None:
    """https goes through the filtering proxy as a CONNECT tunnel (engine/render_proxy.py),
    to the site's TLS port (self-signed: `verify_tls: false`)."""
    site.clear_log()
    body = scheme(site, "/", RENDER, request={"verify_tls": False})
    body["start_urls"] = [site.tls_url + "/rendered/delayed/"]
    task = rapi.create(body)
    final = rapi.wait(task["id"], timeout=120)
    assert final["status"] == "completed" and final["items"] == r.DELAYED_ITEMS, final
    assert len(site.log("/rendered/delayed/")) == 1
    # The filter closes with the browser, cleanly (the crawl's last words come after the run's).
    def closed() -> str | None:
        text = rapi.call("GET", f"/v1/tasks/{task['id']}/log").body.decode()
        return text if "filtering proxy closed" in text else None

    log = wait_until(closed, timeout=60, message="the filter's closing line in the crawl log")
    assert "Traceback" not in log and "ERROR" not in log, log[-3000:]


def test_a_redirect_the_browser_follows_to_a_forbidden_https_host_is_never_requested(
        rapi: ApiServer, site: TestSite) -> None:
    """The hop is a CONNECT to the filtering proxy, refused there. Without it, Chromium would
    reach the site's TLS port (the server maps metadata.google.internal to 127.0.0.1) and
    fetch the probe, its certificate errors ignored."""
    port = site.tls_url.rsplit(":", 1)[1]
    target = f"https://metadata.google.internal:{port}/rendered/probe.png?hop=tls"
    site.clear_log()
    task = rapi.create(scheme(site, "/rendered/redirect/?" + urlencode({"to": target}),
                              {"timeout_s": 10},
                              request={"retry": {"policy": "skip"}, "verify_tls": False}))
    final = rapi.wait(task["id"], timeout=120)
    assert final["items"] == 0, final
    assert len(site.log("/rendered/redirect/")) == 1  # the page itself was asked for
    assert site.log("/rendered/probe.png") == []  # the hop was refused, never requested


def test_a_page_redirected_by_the_browser_to_a_forbidden_host_is_refused(
        rapi: ApiServer, site: TestSite) -> None:
    """The filtering proxy's 403 for the hop is the page's refusal, as the guard's, before the
    page's steps wait on it."""
    port = site.url.rsplit(":", 1)[1]
    target = f"http://metadata.google.internal:{port}/rendered/delayed/"
    task = rapi.create(scheme(site, "/rendered/redirect/?" + urlencode({"to": target}),
                              RENDER, request={"retry": {"policy": "skip"}}))
    final = rapi.wait(task["id"], timeout=120)
    assert final["items"] == 0, final  # /rendered/delayed/ would give DELAYED_ITEMS
    page = rapi.ok("GET", f"/v1/tasks/{task['id']}/pages?take=10")["data"][0]
    info = rapi.ok("GET", f"/api/v2/tasks/{page['id']}/info")
    assert "refused" in info["Error"] and "metadata host" in info["Error"], info


def test_max_response_kb_and_max_redirects_apply_to_rendered_pages(
        rapi: ApiServer, site: TestSite) -> None:
    options = {"retry": {"policy": "skip"}}
    big = rapi.create(scheme(site, "/rendered/scroll/", RENDER,
                             request={**options, "max_response_kb": 1}))
    hop = rapi.create(scheme(site, "/rendered/redirect/?to=/rendered/delayed/", RENDER,
                             request={**options, "max_redirects": 0}))
    for task, why in ((big, "DOWNLOAD_MAXSIZE"), (hop, "REDIRECT_MAX_TIMES")):
        final = rapi.wait(task["id"], timeout=120)
        assert final["items"] == 0, final
        page = rapi.ok("GET", f"/v1/tasks/{task['id']}/pages?take=10")["data"][0]
        info = rapi.ok("GET", f"/api/v2/tasks/{page['id']}/info")
        assert why in (info["Error"] or ""), info


def test_a_preview_renders_as_the_crawl_does(rapi: ApiServer, site: TestSite) -> None:
    """POST /v1/preview with `render` extracts from the rendered DOM (the items exist only
    after the page's script ran), through the same browser handler and filter as a crawl."""
    url = site.abs("/rendered/delayed/")
    rendered = rapi.ok("POST", "/v1/preview", {"scheme": scheme(site, "/rendered/delayed/",
                                                                RENDER), "url": url})
    plain = rapi.ok("POST", "/v1/preview", {"scheme": scheme(site, "/rendered/delayed/", None),
                                            "url": url})
    assert len(rendered["items"]) == r.DELAYED_ITEMS, rendered
    assert plain["items"] == [], plain
