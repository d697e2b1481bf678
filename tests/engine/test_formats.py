"""Every output format of one crawl, read back and compared with the site's ground truth.

JSON, JSON Lines and XML keep the structure; CSV and XLSX flatten nested objects into dotted
columns and join lists with "; " (API.md section 3).
"""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from typing import Any

from openpyxl import load_workbook

from tests.engine.conftest import Crawl
from tests.site.fixture import TestSite

COLUMNS = [
    "text", "text_xpath", "number", "author", "author_lower", "author_upper", "tags",
    "tag_links", "first_tag", "css_class", "missing", "missing_many",
    "about.url", "about.born", "about.location", "about.name",
]


def expected(site: TestSite) -> dict[str, dict[str, Any]]:
    """The quotes crawl's items as the site's truth has them, by quote number."""
    authors = site.truth("authors")
    items = {}
    for number, quote in enumerate(site.truth("quotes"), start=1):
        author = authors[quote["author_slug"]]
        items[str(number)] = {
            "text": quote["text"],
            "text_xpath": quote["text"],
            "number": str(number),
            "author": quote["author"],
            "author_lower": quote["author"].lower(),
            "author_upper": quote["author"].upper(),
            "tags": quote["tags"],
            "tag_links": [f"{site.url}/tag/{t}/" for t in quote["tags"]],
            "first_tag": quote["tags"][0][:1].upper() + quote["tags"][0][1:],
            "css_class": "text",
            "missing": None,
            "missing_many": [],
            "about": {"url": site.url + quote["author_path"], "born": author["born_date"],
                      "location": author["born_location"], "name": author["name"]},
        }
    return items


def flat(item: dict[str, Any]) -> dict[str, str]:
    """What a CSV row holds for an item: dotted columns, lists joined, null as empty."""
    row = {k: v for k, v in item.items() if k != "about"}
    row.update({f"about.{k}": v for k, v in item["about"].items()})
    return {k: "; ".join(v) if isinstance(v, list) else ("" if v is None else v)
            for k, v in row.items()}


def test_json_and_jsonl(site: TestSite, quotes_crawl: Crawl) -> None:
    truth = expected(site)
    for fmt in ("json", "jsonl"):
        items = quotes_crawl.items(fmt)
        assert len(items) == 50
        assert {item["number"]: item for item in items} == truth


def _xml_value(element: ET.Element) -> Any:
    children = list(element)
    if not children:
        return element.text or ""
    if all(child.tag == "value" for child in children):
        return [_xml_value(child) for child in children]
    return {child.tag: _xml_value(child) for child in children}


def test_xml(site: TestSite, quotes_crawl: Crawl) -> None:
    root = ET.parse(quotes_crawl.outputs["xml"]).getroot()
    assert root.tag == "items"
    items = [{field.tag: _xml_value(field) for field in item} for item in root]
    assert len(items) == 50
    truth = expected(site)
    for item in items:
        want = truth[item["number"]]
        # XML has no null and no empty list: both are empty elements
        assert item == {**want, "missing": "", "missing_many": ""}


def test_csv_flattens(site: TestSite, quotes_crawl: Crawl) -> None:
    with quotes_crawl.outputs["csv"].open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == COLUMNS  # the scheme's fields, in order, dotted
        rows = list(reader)
    assert len(rows) == 50
    truth = expected(site)
    for row in rows:
        assert row == flat(truth[row["number"]])
    assert any("; " in row["tags"] for row in rows)


def test_xlsx_flattens(site: TestSite, quotes_crawl: Crawl) -> None:
    sheet = load_workbook(quotes_crawl.outputs["xlsx"], read_only=True).worksheets[0]
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert header == COLUMNS
    assert len(rows) == 50
    truth = expected(site)
    for values in rows:
        row = {name: "" if v is None else v for name, v in zip(header, values, strict=True)}
        assert row == flat(truth[row["number"]])
