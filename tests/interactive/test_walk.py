"""A client-driven crawl of the catalog, as a Web Data Source client does it: start a job,
crawl categories and subcategories, crawl pagination, crawl product links, scrape-multiple on
the product pages, info on each; checked against the test site's truth and request log."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.interactive.conftest import Client, Server
from tests.site.fixture import TestSite

PRODUCT_FIELDS = [
    {"name": "name", "selector": "CSS: h1"},
    {"name": "price", "selector": "XPATH: //p[@class='price']"},
    {"name": "sku", "selector": "CSS: span.sku"},
    {"name": "image", "selector": "CSS: img", "attributeName": "src"},
]


def leaf_categories(categories: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    leaves = {}
    for cat in categories:
        if cat["subcategories"]:
            leaves.update(leaf_categories(cat["subcategories"]))
        else:
            leaves[cat["path"]] = cat
    return leaves


def inner_categories(categories: list[dict[str, Any]]) -> int:
    return sum(1 + inner_categories(c["subcategories"]) for c in categories
               if c["subcategories"])


def walk_list(client: Client, first: dict[str, str]) -> list[dict[str, str]]:
    """A paginated product list: its pages, following `li.next a` to the end."""
    pages = [first]
    while True:
        following = client.crawl(pages[-1]["Id"], "CSS: li.next a")
        if not following:
            return pages
        assert len(following) == 1
        pages.append(following[0])


def test_catalog_walk(server: Server, site: TestSite) -> None:
    truth = site.truth("catalog")
    leaves = leaf_categories(truth["categories"])
    products = {p["path"]: p for p in truth["products"]}
    client = server.client("walker")
    site.clear_log()

    started = client.start("catalog-walk", {"StartUrls": [site.abs("/catalog/")]})
    assert [t["Url"] for t in started] == [site.abs("/catalog/")]
    root = started[0]

    # Categories, then subcategories until the product lists.
    level = first_level = client.crawl(root["Id"], "CSS: a.category")
    assert [t["Url"] for t in level] == [site.abs(c["path"]) for c in truth["categories"]]
    lists: dict[str, dict[str, str]] = {}
    while level:
        below = []
        for task in level:
            children = client.crawl(task["Id"], "CSS: a.category")
            if children:
                below += children
            else:
                lists[task["Url"]] = task
        level = below
    assert sorted(lists) == sorted(site.abs(path) for path in leaves)

    # Pagination, product links, and the product pages' fields.
    seen: list[str] = []
    product_tasks: dict[str, dict[str, str]] = {}
    for url, first in lists.items():
        cat = leaves[url.removeprefix(site.url)]
        pages = walk_list(client, first)
        assert len(pages) == cat["pages"]
        assert pages[1:] == [] or pages[1]["Url"] == url + "?page=2"
        for page in pages:
            for product in client.crawl(page["Id"], "CSS: a.title"):
                path = product["Url"].removeprefix(site.url)
                seen.append(path)
                product_tasks[path] = product
                fields = client.scrape_multiple(product["Id"], PRODUCT_FIELDS)
                want = products[path]
                assert fields == {"name": [want["name"]], "price": [want["price"]],
                                  "sku": [want["sku"]], "image": [site.abs(want["image"])]}
                info = client.info(product["Id"])
                assert info["TaskState"] == "Handled" and info["Error"] is None
                assert info["Result"]["Url"] == product["Url"]
                assert info["Result"]["HttpStatusCode"] == 200
                assert info["Result"]["IsSuccess"] is True
                assert info["Result"]["Method"] == "GET"
                assert info["IntermedResults"] == []
        assert [p for p in seen if products[p]["category"] == cat["slug"]] == [
            f"/product/{i}/" for i in cat["products"]]
    assert sorted(seen) == sorted(products)

    # Every page was requested once: crawl and scrape worked from the page cache.
    requested = Counter(entry["path"] for entry in site.log()
                        if entry["path"].startswith(("/catalog/", "/product/")))
    assert set(requested.values()) == {1}
    assert len(requested) == 1 + inner_categories(truth["categories"]) + sum(
        c["pages"] for c in leaves.values()) + len(products)

    # A link already in the job is its existing download task.
    assert client.crawl(root["Id"], "CSS: a.category") == first_level
    for path, task in list(product_tasks.items())[::10]:
        back = client.crawl(task["Id"], "CSS: a.back")
        assert back == [lists[site.abs(f"/catalog/{products[path]['category']}/")]]


def test_scrape_forms_agree(server: Server, site: TestSite) -> None:
    client = server.client("forms")
    task = client.start("forms", {"StartUrls": [site.abs("/product/101/")]})[0]
    get = client.scrape_multiple(task["Id"], PRODUCT_FIELDS)
    post = client.ready("POST", f"/api/v2/tasks/{task['Id']}/scrape-multiple", PRODUCT_FIELDS)
    assert post.status == 200
    assert {e["name"]: e["values"] for e in post.json} == get
    one = client.ready("GET", f"/api/v2/tasks/{task['Id']}/scrape",
                       params={"selector": "CSS: span.sku"})
    assert one.status == 200 and one.json == get["sku"]
    text = client.ready("GET", f"/api/v2/tasks/{task['Id']}/scrape",
                        params={"selector": "CSS: a.back", "attributeName": "href"})
    assert text.json == [site.abs("/catalog/" + site.truth("catalog")["products"][0]["category"]
                                  + "/")]


def test_download_tasks_on_v1(server: Server, site: TestSite) -> None:
    client = server.client("both-apis")
    start = client.start("both", {"StartUrls": [site.abs("/catalog/")]})[0]
    categories = client.crawl(start["Id"], "CSS: a.category")
    jobs = client.call("GET", "/v1/tasks", params={"name": "both"}).json["data"]
    assert len(jobs) == 1
    listed = client.call("GET", f"/v1/tasks/{jobs[0]['id']}/pages", params={"take": "100"})
    assert listed.status == 200
    rows = {row["id"]: row for row in listed.json["data"]}
    assert set(rows) == {start["Id"], *(c["Id"] for c in categories)}
    assert rows[start["Id"]]["state"] == "Handled" and rows[start["Id"]]["depth"] == 0
    assert all(rows[c["Id"]]["parent_id"] == start["Id"] for c in categories)


def test_redirects_and_retries_are_intermediate_results(server: Server, site: TestSite) -> None:
    client = server.client("hops")
    config = {"StartUrls": [site.abs("/redirect/2/"), site.abs("/flaky/hops/?fail=1")],
              "DownloadErrorHandling": {"Policy": "Retry",
                                        "RetryPolicyParams": {"RetryDelayMs": 0,
                                                              "RetriesLimit": 2}}}
    redirect, flaky = client.start("hops", config)
    for task in (redirect, flaky):
        client.ready("GET", f"/api/v2/tasks/{task['Id']}/scrape",
                     params={"selector": "CSS: p.value"})
    info = client.info(redirect["Id"])
    assert [i["HttpStatusCode"] // 100 for i in info["IntermedResults"]] == [3, 3]
    assert info["Result"]["Url"] == site.abs("/redirect/done/")
    info = client.info(flaky["Id"])
    assert [i["HttpStatusCode"] for i in info["IntermedResults"]] == [500]
    assert info["Result"]["HttpStatusCode"] == 200


def test_job_config_reaches_the_crawl(server: Server, site: TestSite) -> None:
    client = server.client("config-reach")
    urls = [site.abs(f"/gen/{i}.html") for i in (900, 901, 902)]
    tasks = client.start("config-reach", {
        "StartUrls": urls,
        "Headers": {"DefaultRequestHeaders": [{"Name": "X-Client", "Values": ["wds"]}]},
        "CrawlersProtectionBypass": {"CrawlDelays": [{"Host": "127.0.0.1", "Delay": "0.3"}]},
    })
    for task in tasks:
        client.ready("GET", f"/api/v2/tasks/{task['Id']}/scrape", params={"selector": "CSS: h1"})
        info = client.info(task["Id"])
        assert info["Result"]["CrawlDelaySec"] == 0.3
        sent = {h["Name"].lower(): h["Values"] for h in info["Result"]["RequestHeaders"]}
        assert sent["x-client"] == ["wds"]
    log = [e for e in site.log(path_prefix="/gen/90") if e["path"] in
           {u.removeprefix(site.url) for u in urls}]
    assert len(log) == 3 and all(e["headers"]["x-client"] == ["wds"] for e in log)
    times = sorted(e["time"] for e in log)
    assert all(b - a >= 0.25 for a, b in zip(times, times[1:], strict=False))
