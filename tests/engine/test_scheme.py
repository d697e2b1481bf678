"""Bad schemes: every mistake reported at once with its path; an invalid selector is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.extraction.selectors import SelectorSyntaxError, parse_selector
from engine.scheme import SchemeError, parse_scheme
from tests.engine.conftest import crawl

BAD = {
    "start_urls": ["ftp://example.com/", "https://example.com/"],
    "item": {
        "selector": "CSS: div..quote",
        "fields": [
            {"name": "text", "selector": "span.text"},
            {"name": "price", "selector": "XPATH: //p[@class='price'",
             "filters": [{"name": "regex"}, {"name": "reverse"}]},
            {"name": "text", "selector": "CSS: a", "colour": "red"},
        ],
    },
    "paginate": {"selector": "CSS: li.next a", "max_pages": 0},
    "limits": {"timeout_s": -1},
    "formats": ["csv", "pdf"],
    "politeness": {"crawl_delay": "5-1"},
    "request": {"retry": {"policy": "sometimes"}},
    "surprise": True,
}

EXPECTED_PATHS = {
    "start_urls[0]",
    "item.selector",
    "item.fields[0].selector",
    "item.fields[1].selector",
    "item.fields[1].filters[0]",
    "item.fields[1].filters[1].name",
    "item.fields[2].colour",
    "paginate.max_pages",
    "limits.timeout_s",
    "formats[1]",
    "politeness.crawl_delay",
    "request.retry.policy",
    "surprise",
}


def test_every_mistake_is_reported_with_its_path() -> None:
    with pytest.raises(SchemeError) as info:
        parse_scheme(BAD)
    errors = info.value.errors
    assert EXPECTED_PATHS <= set(errors), set(errors)
    assert "unknown key" in errors["surprise"]
    assert "ftp://example.com/" in errors["start_urls[0]"][0]


def test_duplicate_field_names() -> None:
    fields = [{"name": "a", "selector": "CSS: a"}, {"name": "a", "selector": "CSS: b"}]
    with pytest.raises(SchemeError) as info:
        parse_scheme({"start_urls": ["http://x.test/"], "item": {"fields": fields}})
    assert info.value.errors == {"item.fields": ["duplicate field names: a"]}


def test_invalid_selectors_are_named() -> None:
    with pytest.raises(SchemeError) as info:
        parse_scheme(BAD)
    errors = info.value.errors
    assert "div..quote" in errors["item.selector"][0]
    assert "//p[@class='price'" in errors["item.fields[1].selector"][0]
    assert "CSS:" in errors["item.fields[0].selector"][0]  # no prefix: says which are known
    with pytest.raises(SelectorSyntaxError, match="invalid XPATH selector"):
        parse_selector("XPATH: //a[")


@pytest.mark.parametrize("text", ["CSS: a.b", "css:a.b", "Css :  a.b", "XPATH: //a", "xpath://a"])
def test_selector_prefixes(text: str) -> None:
    assert parse_selector(text).kind in ("css", "xpath")


def test_not_json() -> None:
    with pytest.raises(SchemeError) as info:
        parse_scheme("{nope")
    assert list(info.value.errors) == ["$"]


def test_the_spider_refuses_a_bad_scheme(tmp_path: Path) -> None:
    import json

    result = crawl(None, json.dumps(BAD), tmp_path)
    assert result.returncode != 0
    assert "item.fields[1].selector" in result.log and "div..quote" in result.log
    assert not result.outputs["jsonl"].exists() or result.items() == []
