"""Developer mode (`scrapy crawl task -a scheme=...`) with the real-web keys: JMESPath,
sitemaps, login and Markdown in one plain Scrapy run, no store."""

from __future__ import annotations

from pathlib import Path

from tests.engine.conftest import crawl
from tests.site import realweb
from tests.site.fixture import TestSite


def test_scrapy_crawl_with_sitemaps_login_jmespath_and_markdown(site: TestSite,
                                                                tmp_path: Path) -> None:
    scheme = {
        "sitemap_urls": [site.abs("/web/sitemap-index.xml")],
        "sitemap_rules": [{"pattern": "/article/"}],
        "start_urls": [site.abs("/api/products?page=1"), site.abs("/members/1")],
        "login": {"url": site.abs("/login"), "form": "XPATH: //form[@id='login']",
                  "fields": {"username": realweb.USERNAME, "password": realweb.PASSWORD},
                  "success": "CSS: a[href='/logout']"},
        "item": {"fields": [
            {"name": "markdown", "attr": "markdown"},
            {"name": "secret", "selector": "CSS: p.secret"},
            {"name": "first_product", "selector": "JMESPATH: products[0].name"}]},
        "politeness": {"obey_robots": False},
    }
    result = crawl(site, scheme, tmp_path)
    assert result.returncode == 0, result.log[-3000:]
    assert realweb.PASSWORD not in result.log
    items = result.items()
    markdowns = {i["markdown"] for i in items}
    for slug in realweb.ARTICLES:
        assert realweb.article_markdown(slug, site.url) in markdowns
    assert {i["secret"] for i in items} >= {realweb.MEMBER_ITEMS[0]["secret"]}
    assert {i["first_product"] for i in items} >= {realweb.PRODUCTS[0]["name"]}
    assert len(items) == len(realweb.ARTICLES) + 2
