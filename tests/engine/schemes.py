"""Schemes shared by engine tests."""

from __future__ import annotations

from typing import Any

FAST: dict[str, Any] = {"retry": {"delay_ms": 0}}


def quotes_scheme(base: str, max_pages: int = 100) -> dict[str, Any]:
    """Every field feature on the quotes listing; authors as shared detail pages."""
    return {
        "start_urls": [f"{base}/quotes/"],
        "item": {
            "selector": "css: div.quote",
            "fields": [
                {"name": "text", "selector": "CSS: span.text"},
                {"name": "text_xpath", "selector": "XPATH: .//span[@class='text']/text()",
                 "filters": [{"name": "trim"}]},
                {"name": "number", "selector": "CSS:span.text",
                 "filters": [{"name": "regex", "param": r"no\. (\d+)"}]},
                {"name": "author", "selector": "CSS: small.author", "attr": "val"},
                {"name": "author_lower", "selector": "XPATH: .//small[@class='author']",
                 "filters": [{"name": "lowercase"}]},
                {"name": "author_upper", "selector": "CSS: small.author",
                 "filters": [{"name": "uppercase"}]},
                {"name": "tags", "selector": "CSS: a.tag", "many": True},
                {"name": "tag_links", "selector": "CSS: a.tag", "attr": "href", "many": True},
                {"name": "first_tag", "selector": "CSS: a.tag",
                 "filters": [{"name": "capitalize"}]},
                {"name": "css_class", "selector": "CSS: span.text", "attr": "class"},
                {"name": "missing", "selector": "CSS: .no-such-thing"},
                {"name": "missing_many", "selector": "CSS: .no-such-thing", "many": True},
                {"name": "about", "selector": "XPATH: .//small[@class='author']/../a",
                 "follow": {"fields": [
                     {"name": "born", "selector": "CSS: .author-born-date"},
                     {"name": "location", "selector": "CSS: .author-born-location",
                      "filters": [{"name": "trim"}]},
                     {"name": "name", "selector": "XPATH: //h3"},
                 ]}},
            ],
        },
        "paginate": {"selector": "CSS: li.next a", "max_pages": max_pages},
        "request": FAST,
    }
