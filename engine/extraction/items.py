"""Field extraction from a page with the scheme's `item` rules (parsel under the hood)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from parsel import Selector

from engine.extraction.markdown import to_markdown
from engine.extraction.selectors import is_json, parse_selector
from engine.scheme import FieldRule, Filter, ItemRule

_URL_ATTRS = {"href", "src"}
# Links that are no page to download. Other schemes (file:, data:, ftp:, ...) are kept: a
# stored run's guard refuses them and records why on their page
# (engine/downloadermiddlewares/guard.py).
_NOT_PAGES = ("javascript:", "mailto:", "tel:", "#")
_WHITESPACE = re.compile(r"\s+")

_FILTERS: dict[str, Callable[[str], str]] = {
    "trim": str.strip,
    "lowercase": str.lower,
    "uppercase": str.upper,
    "capitalize": lambda s: s[:1].upper() + s[1:],
}


@dataclass
class FollowLink:
    """A field whose value is a detail page's fields: where to put them once they are known."""

    field: FieldRule
    url: str
    index: int | None  # the position in a `many` list, None for a single value


def json_text(value: Any) -> str | None:
    """A JSON value as a field's text: strings as they are, numbers and booleans as JSON
    writes them, objects and arrays as compact JSON, null as no value."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def inner_text(node: Selector) -> str:
    if isinstance(node.root, str):  # a text node or attribute value (`::text`, `@href`)
        return _WHITESPACE.sub(" ", node.root).strip()
    return _WHITESPACE.sub(" ", " ".join(node.xpath(".//text()").getall())).strip()


def apply_filters(value: str | None, filters: list[Filter]) -> str | None:
    for flt in filters:
        if value is None:
            return None
        if flt.name == "regex":
            assert flt.param is not None
            match = re.search(flt.param, value)
            value = None if match is None else (match.group(1) if match.groups() else match[0])
        else:
            value = _FILTERS[flt.name](value)
    return value


def node_value(node: Selector, rule: FieldRule, base_url: str) -> str | None:
    attr = rule.attr or ("href" if rule.follow else None)
    value: str | None
    if is_json(node):
        # A JSON value; `attr` names a key of a matched object, and a link is made absolute.
        root = node.root
        if attr and attr not in ("val", "markdown") and isinstance(root, dict):
            root = root.get(attr)
        value = json_text(root)
        if value is not None and (attr in _URL_ATTRS or rule.follow):
            value = urljoin(base_url, value.strip())
        return apply_filters(value, rule.filters)
    if attr == "markdown":
        return apply_filters(to_markdown(node, base_url, main=rule.selector is None),
                             rule.filters)
    if not attr or attr == "val":
        value = inner_text(node)
    else:
        # A matched attribute or text node (`@href`) is the value itself.
        value = node.root if isinstance(node.root, str) else node.attrib.get(attr)
        if value is not None and attr in _URL_ATTRS:
            value = urljoin(base_url, value.strip())
    return apply_filters(value, rule.filters)


def extract_fields(
    node: Selector, fields: list[FieldRule], base_url: str
) -> tuple[dict[str, Any], list[FollowLink]]:
    """The fields' values at `node`, and the detail links that still have to be fetched."""
    item: dict[str, Any] = {}
    follows: list[FollowLink] = []
    for rule in fields:
        matches = [node] if rule.selector is None else parse_selector(rule.selector).select(node)
        found = (node_value(m, rule, base_url) for m in matches)
        values = [v for v in found if v is not None]
        if rule.many:
            item[rule.name] = values
            if rule.follow:
                follows.extend(FollowLink(rule, url, i) for i, url in enumerate(values))
        else:
            item[rule.name] = values[0] if values else None
            if rule.follow and values:
                follows.append(FollowLink(rule, values[0], None))
    return item, follows


def extract_items(
    page: Selector, rule: ItemRule | None, base_url: str
) -> Iterator[tuple[dict[str, Any], list[FollowLink]]]:
    """One item per `rule.selector` match (or one per page), with its pending detail links."""
    if rule is None:
        yield {"url": base_url}, []
        return
    nodes = [page] if rule.selector is None else parse_selector(rule.selector).select(page)
    for node in nodes:
        yield extract_fields(node, rule.fields, base_url)


def extract_links(page: Selector, selector: str, base_url: str) -> list[str]:
    """Absolute URLs of the matched links (their href, or src, or the text of a matched attr),
    script, mail and phone links and in-page anchors left out."""
    urls = []
    link: str | None
    for node in parse_selector(selector).select(page):
        if is_json(node):
            link = json_text(node.root) if isinstance(node.root, str) else None
        elif isinstance(node.root, str):
            link = node.root
        else:
            link = node.attrib.get("href") or node.attrib.get("src")
        if link and not link.strip().lower().startswith(_NOT_PAGES):
            urls.append(urljoin(base_url, link.strip()))
    return urls
