"""Scheme features, end to end: the real `task` spider against the test site, items compared
with the site's ground truth and the requests compared with the site's log."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import Crawl, crawl
from tests.engine.schemes import FAST, quotes_scheme
from tests.site.fixture import TestSite


def by_number(items: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {int(item["number"]): item for item in items}


def test_quotes_fields(site: TestSite, quotes_crawl: Crawl) -> None:
    truth = site.truth("quotes")
    authors = site.truth("authors")
    items = by_number(quotes_crawl.items())
    assert sorted(items) == list(range(1, 51))  # every quote of the 5 pages, once
    for number, quote in enumerate(truth, start=1):
        item = items[number]
        author = authors[quote["author_slug"]]
        assert item["text"] == quote["text"]  # inner text, whitespace-normalised
        assert item["text_xpath"] == quote["text"]  # XPATH text node, trim filter
        assert item["author"] == quote["author"]  # attr "val"
        assert item["author_lower"] == quote["author"].lower()
        assert item["author_upper"] == quote["author"].upper()
        assert item["tags"] == quote["tags"]  # many
        assert item["tag_links"] == [f"{site.url}/tag/{t}/" for t in quote["tags"]]  # absolute
        first = quote["tags"][0]
        assert item["first_tag"] == first[:1].upper() + first[1:]  # capitalize, first match
        assert item["css_class"] == "text"  # any attribute
        assert item["missing"] is None and item["missing_many"] == []
        assert item["about"] == {  # field follow: the detail page's fields
            "url": site.url + quote["author_path"],
            "born": author["born_date"],
            "location": author["born_location"],
            "name": author["name"],
        }


def test_detail_pages_shared_by_many_items_are_fetched_once(
    site: TestSite, quotes_crawl: Crawl
) -> None:
    # (other tests' crawls on this site fetch its generated pages meanwhile: not counted)
    counts = Counter(p for p in quotes_crawl.paths() if not p.startswith("/gen/"))
    author_paths = {q["author_path"] for q in site.truth("quotes")}
    assert len(author_paths) == 8
    assert {p: counts[p] for p in author_paths} == {p: 1 for p in author_paths}
    # the start URL redirects to page 1, then pagination to page 5, each page once
    pages = ["/quotes/"] + [f"/quotes/page/{n}/" for n in range(1, 6)]
    assert {p: counts[p] for p in pages} == {p: 1 for p in pages}
    assert sum(counts.values()) == len(pages) + len(author_paths)


def test_paginate_max_pages(site: TestSite, tmp_path: Path) -> None:
    result = crawl(site, quotes_scheme(site.url, max_pages=2), tmp_path)
    assert result.returncode == 0, result.log[-3000:]
    assert sorted(int(i["number"]) for i in result.items()) == list(range(1, 21))
    listing = [p for p in result.paths() if p.startswith("/quotes/page/")]
    assert sorted(listing) == ["/quotes/page/1/", "/quotes/page/2/"]


def catalog_scheme(base: str, max_depth: int) -> dict[str, Any]:
    return {
        "start_urls": [f"{base}/catalog/"],
        "item": {
            "selector": "CSS: div.product",
            "fields": [
                {"name": "name", "selector": "CSS: a.title"},
                {"name": "link", "selector": "CSS: a.title", "attr": "href"},
                {"name": "image", "selector": "XPATH: .//img", "attr": "src"},
                {"name": "price", "selector": "CSS: p.price",
                 "filters": [{"name": "regex", "param": r"([0-9.]+)"}]},
                {"name": "detail", "selector": "CSS: a.title", "follow": {"fields": [
                    {"name": "sku", "selector": "CSS: span.sku"},
                    {"name": "description", "selector": "CSS: div.description"},
                ]}},
            ],
        },
        "follow": [{"selector": "CSS: a.category", "max_depth": max_depth}],
        "paginate": {"selector": "CSS: li.next a", "max_pages": 10},
        "request": FAST,
    }


@pytest.fixture(scope="module")
def catalog(site: TestSite, tmp_path_factory: pytest.TempPathFactory) -> Crawl:
    result = crawl(site, catalog_scheme(site.url, 2), tmp_path_factory.mktemp("catalog"))
    assert result.returncode == 0, result.log[-3000:]
    return result


def test_follow_max_depth_reaches_every_product(site: TestSite, catalog: Crawl) -> None:
    truth = {site.url + p["path"]: p for p in site.truth("catalog")["products"]}
    items = {item["link"]: item for item in catalog.items()}
    assert len(catalog.items()) == len(truth) == 50
    assert items.keys() == truth.keys()
    for link, item in items.items():
        product = truth[link]
        assert item["name"] == product["name"]
        assert item["image"] == site.url + product["image"]  # src made absolute
        assert item["price"] == product["price"].split()[1]
        assert item["detail"] == {
            "url": link, "sku": product["sku"], "description": product["description"],
        }
    counts = Counter(catalog.paths())
    assert max(counts.values()) == 1  # nothing fetched twice


def test_follow_depth_one_stops_above_subcategories(site: TestSite, tmp_path: Path) -> None:
    result = crawl(site, catalog_scheme(site.url, 1), tmp_path)
    assert result.returncode == 0, result.log[-3000:]
    catalog = site.truth("catalog")
    garden = [p for p in catalog["products"] if p["category"] == "garden"]
    assert sorted(i["link"] for i in result.items()) == sorted(site.url + p["path"] for p in garden)
    categories = {p for p in result.paths() if p.startswith("/catalog/")}
    assert categories == {
        "/catalog/", "/catalog/books/", "/catalog/electronics/", "/catalog/garden/",
        "/catalog/garden/?page=2", "/catalog/garden/?page=3",
    }


def test_one_item_per_page_without_item_selector(site: TestSite, tmp_path: Path) -> None:
    scheme = {
        "start_urls": [f"{site.url}/product/101/", f"{site.url}/links/?n=2"],
        "item": {"fields": [
            {"name": "title", "selector": "CSS: h1"},
            {"name": "sku", "selector": "XPATH: //span[@class='sku']"},
        ]},
        "follow": [{"selector": "CSS: a.leaf"}],
    }
    result = crawl(site, scheme, tmp_path)
    assert result.returncode == 0, result.log[-3000:]
    product = next(p for p in site.truth("catalog")["products"] if p["id"] == 101)
    assert sorted(result.items(), key=lambda i: i["title"]) == [
        {"title": "Leaf 0", "sku": None},
        {"title": "Leaf 1", "sku": None},
        {"title": "Links", "sku": None},
        {"title": product["name"], "sku": product["sku"]},
    ]


def test_no_item_rule_gives_the_page_urls(site: TestSite, tmp_path: Path) -> None:
    scheme = {"start_urls": [f"{site.url}/links/?n=3"], "follow": [{"selector": "CSS: a.leaf"}]}
    result = crawl(site, scheme, tmp_path)
    assert result.returncode == 0, result.log[-3000:]
    expected = [f"{site.url}/links/?n=3"] + [f"{site.url}/links/{i}/" for i in range(3)]
    assert sorted(i["url"] for i in result.items()) == sorted(expected)


def test_two_follow_fields_linking_one_page_both_get_its_fields(site: TestSite,
                                                               tmp_path: Path) -> None:
    """Page "Links (1)" links /links/0/ through field `a`, page "Links (2)" through field `b`
    and arrives later, once the detail page was handled for `a`: `b` gets its values too."""
    def field(name: str, n: int) -> dict[str, Any]:
        return {"name": name, "follow": {"fields": [{"name": "value", "selector": "CSS: p.value"}]},
                "selector": f"XPATH: //a[@href='/links/0/'][contains(/html/head/title, '({n})')]"}

    scheme = {
        "start_urls": [site.abs("/links/?n=1"), site.abs("/links/?n=2&delay=0.5")],
        "item": {"fields": [{"name": "title", "selector": "CSS: title"}, field("a", 1),
                            field("b", 2)]},
        "politeness": {"obey_robots": False, "concurrency": 2},
    }
    result = crawl(site, scheme, tmp_path)
    assert result.returncode == 0, result.log[-3000:]
    items = {item["title"]: item for item in result.items()}
    assert items["Links (1)"]["a"]["value"] == "value-0" and items["Links (1)"]["b"] is None
    assert items["Links (2)"]["b"]["value"] == "value-0" and items["Links (2)"]["a"] is None


def test_links_leave_out_scripts_mail_and_anchors_in_any_case() -> None:
    from parsel import Selector

    from engine.extraction.items import extract_links

    hrefs = ["JavaScript:alert(1)", "MAILTO:a@b.c", "tel:+1", "#top", "/a/", "file:///etc/passwd"]
    page = Selector("".join(f'<a href="{h}">x</a>' for h in hrefs))
    # file: stays: a stored run's guard refuses it and records why on its page.
    assert extract_links(page, "CSS: a", "http://h/p/") == ["http://h/a/", "file:///etc/passwd"]
