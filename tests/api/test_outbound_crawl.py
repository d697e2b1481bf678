"""Outbound safety inside a crawl: links and redirects of a stored run never reach cloud
metadata or link-local addresses (even with private targets allowed, as on this loopback
test site); the refusal is recorded on the page and the crawl goes on."""

from __future__ import annotations

from tests.api.conftest import ApiServer
from tests.site.fixture import TestSite

REFUSED = {
    "http://169.254.169.254/latest/meta-data/": "metadata address",
    "http://metadata.google.internal/computeMetadata/v1/": "cloud metadata host",
    "http://[fe80::1]/": "link-local address",
}


def test_links_and_redirects_to_forbidden_targets_are_refused(api: ApiServer,
                                                              site: TestSite) -> None:
    site.clear_log()
    task = api.create({
        "start_urls": [site.abs("/outbound/")],
        "follow": [{"selector": "CSS: li a", "max_depth": 1}],
        "politeness": {"obey_robots": False},
        "request": {"timeout_s": 20, "retry": {"policy": "skip"}},
    })
    final = api.wait(task["id"], timeout=60)
    assert final["status"] == "completed", final
    pages = api.ok("GET", f"/v1/tasks/{task['id']}/pages?take=100")["data"]
    by_url = {page["url"]: page for page in pages}
    assert by_url[site.abs("/links/1/")]["http_status"] == 200  # the ordinary link is crawled
    for url in [*REFUSED, site.abs("/outbound/redirect/")]:
        assert by_url[url]["http_status"] is None, by_url[url]

    errors = {}
    for url in [*REFUSED, site.abs("/outbound/redirect/")]:
        info = api.ok("GET", f"/api/v2/tasks/{by_url[url]['id']}/info")
        errors[url] = info["Error"] or ""
    for url, why in REFUSED.items():
        assert "refused" in errors[url] and why in errors[url], (url, errors[url])
    # The redirect's hop reached the site; its target was refused, not requested.
    assert "metadata address" in errors[site.abs("/outbound/redirect/")]
    assert [e["path"] for e in site.log("/outbound/redirect/")] == ["/outbound/redirect/"]
