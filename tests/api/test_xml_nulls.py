"""A null field in XML results is an empty element, through the API as through `scrapy crawl
-O out.xml`: both use the feed exporters of engine/settings.py (Scrapy's own writes "None")."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from tests.api.conftest import ApiServer
from tests.engine.conftest import crawl
from tests.site.fixture import TestSite


def null_scheme(site: TestSite) -> dict[str, Any]:
    return {
        "start_urls": [site.abs("/quotes/page/1/")],
        "item": {"selector": "CSS: div.quote", "fields": [
            {"name": "text", "selector": "CSS: span.text"},
            {"name": "missing", "selector": "CSS: .no-such-thing"},  # null in every item
        ]},
        "formats": ["xml"],
        "politeness": {"obey_robots": False},
    }


def check_nulls(xml: bytes) -> None:
    assert b"None" not in xml
    items = ET.fromstring(xml).findall("item")
    assert items
    for item in items:
        assert item.findtext("text")
        missing = item.find("missing")
        assert missing is not None and not missing.text and not list(missing)


def test_api_xml_writes_null_as_an_empty_element(api: ApiServer, site: TestSite) -> None:
    task = api.create(null_scheme(site))
    assert api.wait(task["id"])["status"] == "completed"
    response = api.call("GET", f"/v1/tasks/{task['id']}/store?format=xml")
    assert response.status == 200
    check_nulls(response.body)


def test_feed_xml_writes_null_as_an_empty_element(site: TestSite, tmp_path: Path) -> None:
    result = crawl(site, null_scheme(site), tmp_path, formats=("xml",))
    assert result.returncode == 0, result.log[-3000:]
    check_nulls(result.outputs["xml"].read_bytes())
