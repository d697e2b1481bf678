"""The console's pages and assets over plain HTTP: no key needed for them (the data calls
still need one), right content types, cache headers and a CSP without inline script."""

from __future__ import annotations

import re

import pytest

from tests.support.server import Server

PAGES = ["/", "/console/login", "/console/new", "/console/tasks/t_x", "/console/schedules",
         "/console/jobs", "/docs"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_need_no_key_and_carry_a_csp(api: Server, path: str) -> None:
    page = api.call("GET", path, key=None, check_spec=False)
    assert page.status == 200 and page.content_type.startswith("text/html")
    csp = page.headers["content-security-policy"]
    script_src = csp.split("script-src")[1].split(";")[0]
    assert script_src.strip() == "'self'", csp
    assert not re.search(rb"<script(?![^>]*\bsrc=)", page.body), "inline script"
    assert not re.search(rb"\son[a-z]+=", page.body), "inline event handler"


def test_assets_types_and_cache(api: Server) -> None:
    for path, ctype in (("/console/static/console.js", "text/javascript"),
                        ("/console/static/console.css", "text/css"),
                        ("/console/static/docs.js", "text/javascript"),
                        ("/docs/static/swagger-ui-bundle.js", "text/javascript"),
                        ("/docs/static/swagger-ui.css", "text/css")):
        asset = api.call("GET", path, key=None, check_spec=False)
        assert asset.status == 200, path
        assert asset.content_type.startswith(ctype), (path, asset.content_type)
        assert "max-age" in asset.headers["cache-control"]
        assert asset.headers["x-content-type-options"] == "nosniff"
    for path in ("/console/static/../../app.py", "/console/static/nothing.js",
                 "/docs/static/index.html"):
        assert api.call("GET", path, key=None, check_spec=False).status == 404, path


def test_data_calls_still_need_a_key(api: Server) -> None:
    assert api.call("GET", "/v1/tasks", key=None).status == 401
    assert api.call("POST", "/v1/preview", {"scheme": {}, "url": "http://x/"},
                    key=None).status == 401
