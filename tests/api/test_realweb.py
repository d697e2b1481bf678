"""The real web through the API (issue 15): JSON endpoints with JMESPath, sitemaps (index,
gzip, robots.txt), a login with a CSRF token whose secrets never come back, and Markdown.
Each crawl is compared with the test site's ground truth (tests/site/realweb.py)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from tests.api.conftest import ApiServer
from tests.site import realweb
from tests.site.fixture import TestSite


def crawl(api: ApiServer, scheme: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run a scheme to its end: the task and its items (JSON Lines)."""
    scheme = {"politeness": {"obey_robots": False, "concurrency": 4}, **scheme}
    task = api.wait(api.create(scheme)["id"], timeout=60)
    response = api.call("GET", f"/v1/tasks/{task['id']}/store", params={"format": "jsonl"})
    items = [json.loads(line) for line in response.body.decode().splitlines() if line.strip()]
    return task, items


def test_jmespath_items_fields_paginate_follow_on_json(api: ApiServer, site: TestSite) -> None:
    task, items = crawl(api, {
        "start_urls": [site.abs("/api/")],
        "follow": [{"selector": "JMESPATH: listings[]", "max_depth": 1}],
        "paginate": {"selector": "JMESPATH: next"},
        "item": {"selector": "JMESPATH: products", "fields": [
            {"name": "name", "selector": "JMESPATH: name"},
            {"name": "price", "selector": "JMESPATH: price"},
            {"name": "detail", "selector": "JMESPATH: url", "follow": {"fields": [
                {"name": "sku", "selector": "JMESPATH: sku"},
                {"name": "tags", "selector": "jmespath:tags[]", "many": True}]}},
            {"name": "html_only", "selector": "CSS: h1"},  # matches nothing in JSON
        ]},
    })
    assert task["status"] == "completed", task
    expected = [{"name": p["name"], "price": json.dumps(p["price"]), "html_only": None,
                 "detail": {"url": site.abs(f"/api/product/{p['id']}"), "sku": p["sku"],
                            "tags": p["tags"]}} for p in realweb.PRODUCTS]
    assert sorted(items, key=lambda i: i["name"]) == sorted(expected, key=lambda i: i["name"])


def test_jmespath_selector_is_validated_with_its_path(api: ApiServer, site: TestSite) -> None:
    response = api.call("POST", "/v1/tasks", {"scheme": {
        "start_urls": [site.abs("/api/")],
        "item": {"fields": [{"name": "x", "selector": "JMESPATH: products[?"}]}}})
    assert response.status == 422
    assert "scheme.item.fields[0].selector" in response.json["errors"]


def test_sitemap_index_gzip_and_robots_with_rules(api: ApiServer, site: TestSite) -> None:
    fields = [{"name": "title", "selector": "CSS: h1"}]
    task, items = crawl(api, {"sitemap_urls": [site.abs("/web/robots.txt")],
                              "item": {"fields": fields}})
    assert task["status"] == "completed", task
    titles = sorted(i["title"] for i in items)
    assert titles == sorted([a["title"] for a in realweb.ARTICLES.values()]
                            + [f"Plain page {n}" for n in realweb.PLAIN_PAGES])
    # robots.txt, the index, two sitemaps and the pages: all in the trace
    assert task["pages"] == 4 + len(realweb.ARTICLES) + len(realweb.PLAIN_PAGES)

    task, items = crawl(api, {"sitemap_urls": [site.abs("/web/sitemap-index.xml")],
                              "sitemap_rules": [{"pattern": "/article/"}],
                              "item": {"fields": fields}})
    assert sorted(i["title"] for i in items) == sorted(
        a["title"] for a in realweb.ARTICLES.values())


def test_sitemap_rules_and_start_requirement_are_validated(api: ApiServer) -> None:
    response = api.call("POST", "/v1/tasks", {"scheme": {
        "sitemap_urls": ["http://example.com/sitemap.xml"], "sitemap_rules": [{"pattern": "("}]}})
    assert response.status == 422 and "scheme.sitemap_rules[0].pattern" in response.json["errors"]
    response = api.call("POST", "/v1/tasks", {"scheme": {"item": None}})
    assert response.status == 422


def login_scheme(site: TestSite, password: str) -> dict[str, Any]:
    return {
        "start_urls": [site.abs("/members/")],
        "login": {"url": site.abs("/login"), "form": "CSS: form#login",
                  "fields": {"username": realweb.USERNAME, "password": password},
                  "success": "CSS: a[href='/logout']"},
        "follow": [{"selector": "CSS: a.item"}],
        "item": {"selector": "CSS: body:has(h1.name)", "fields": [
            {"name": "name", "selector": "CSS: h1.name"},
            {"name": "secret", "selector": "CSS: p.secret"}]},
    }


def test_login_keeps_the_session_and_never_shows_its_secrets(api: ApiServer,
                                                             site: TestSite) -> None:
    task, items = crawl(api, login_scheme(site, realweb.PASSWORD))
    assert task["status"] == "completed", task
    assert sorted((i["name"], i["secret"]) for i in items) == sorted(
        (m["name"], m["secret"]) for m in realweb.MEMBER_ITEMS)

    secret = realweb.PASSWORD
    scheme = api.ok("GET", f"/v1/tasks/{task['id']}/scheme")
    assert scheme["login"]["fields"] == {"username": "***", "password": "***"}
    answers = [scheme, api.task(task["id"]), api.ok("GET", "/v1/tasks"),
               api.ok("GET", f"/v1/tasks/{task['id']}/pages?take=100")]
    for answer in answers:
        assert secret not in json.dumps(answer)
        assert realweb.USERNAME not in json.dumps(answer)
    for path in (api.data_dir / "logs").glob("*.log"):
        assert secret not in path.read_text(errors="replace"), path
    assert secret not in api.log()
    with sqlite3.connect(api.data_dir / "crawlplane.db") as db:
        infos = db.execute("SELECT info FROM download_infos").fetchall()
        pages = db.execute("SELECT url FROM pages").fetchall()
    assert infos and pages and not any(secret in str(row) for row in infos + pages)


def test_login_failure_ends_the_run_with_a_clear_error(api: ApiServer, site: TestSite) -> None:
    task, items = crawl(api, login_scheme(site, "wrong-password"))
    assert task["status"] == "error" and items == []
    assert task["error"].startswith("login failed: the success selector "), task["error"]
    assert "wrong-password" not in json.dumps(api.task(task["id"]))


def test_login_needs_cookies(api: ApiServer, site: TestSite) -> None:
    scheme = {**login_scheme(site, "x"), "request": {"cookies": False}}
    response = api.call("POST", "/v1/tasks", {"scheme": scheme})
    assert response.status == 422 and "x" not in json.dumps(response.json.get("errors"))


def test_markdown_of_main_content_and_of_an_element(api: ApiServer, site: TestSite) -> None:
    task, items = crawl(api, {
        "start_urls": [site.abs(f"/web/article/{slug}") for slug in realweb.ARTICLES],
        "item": {"fields": [
            {"name": "main", "attr": "markdown"},
            {"name": "main_null", "selector": None, "attr": "markdown"},
            {"name": "footer", "selector": "CSS: footer", "attr": "markdown"}]},
    })
    assert task["status"] == "completed", task
    by_main = {i["main"]: i for i in items}
    for slug in realweb.ARTICLES:
        expected = realweb.article_markdown(slug, site.url)
        assert expected in by_main, (expected, list(by_main))
        item = by_main[expected]
        assert item["main_null"] == expected
        assert item["footer"] == f"(c) 2026 Test site - [Privacy]({site.url}/web/privacy)"
