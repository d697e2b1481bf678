"""Listing tasks: filters, order, `take` and cursor paging; tenants see only their own."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.api.conftest import ApiServer, gen_scheme
from tests.site.fixture import TestSite


@pytest.fixture(scope="module")
def listed(api: ApiServer, site: TestSite, carol: str) -> list[dict[str, Any]]:
    """Seven tasks of one tenant, none of them run, tagged by parity."""
    scheme = gen_scheme(site, max_pages=1)
    return [api.create(scheme, run=False, name=f"list-{i}", tag=f"par-{i % 2}", key="carol")
            for i in range(7)]


@pytest.fixture(scope="module")
def carol(api: ApiServer) -> str:
    return api.create_key("carol")


def walk(api: ApiServer, url: str | None, link: str = "next") -> list[list[str]]:
    pages = []
    while url:
        body = api.ok("GET", url, key="carol")
        pages.append([t["id"] for t in body["data"]])
        url = body["links"][link]
    return pages


def test_cursor_paging_forward_and_back(api: ApiServer, listed: list[dict[str, Any]]) -> None:
    ids = [t["id"] for t in listed]
    pages = walk(api, "/v1/tasks?take=3")
    assert pages == [ids[0:3], ids[3:6], ids[6:7]]
    first = api.ok("GET", "/v1/tasks?take=3", key="carol")
    assert first["links"]["previous"] is None
    next_url = first["links"]["next"]
    assert next_url.startswith(api.url + "/v1/tasks?")
    assert parse_qs(urlsplit(next_url).query)["take"] == ["3"]
    last = api.ok("GET", walk_last(api, "/v1/tasks?take=3"), key="carol")
    assert last["links"]["next"] is None
    back = walk(api, last["links"]["previous"], "previous")
    assert back == [ids[3:6], ids[0:3]]


def walk_last(api: ApiServer, url: str) -> str:
    while True:
        following = api.ok("GET", url, key="carol")["links"]["next"]
        if following is None:
            return url
        url = following


def test_order_desc_and_default_take(api: ApiServer, listed: list[dict[str, Any]]) -> None:
    ids = [t["id"] for t in listed]
    assert walk(api, "/v1/tasks?order=desc&take=4") == [ids[::-1][0:4], ids[::-1][4:7]]
    body = api.ok("GET", "/v1/tasks", key="carol")
    assert [t["id"] for t in body["data"]] == ids  # take defaults to 20, order to asc
    assert body["links"] == {"next": None, "previous": None}


def test_filters_compose_with_paging(api: ApiServer, listed: list[dict[str, Any]]) -> None:
    even = [t["id"] for t in listed if t["tag"] == "par-0"]
    pages = walk(api, "/v1/tasks?tag=par-0&take=2&status=initialized")
    assert pages == [even[0:2], even[2:4]]
    assert walk(api, "/v1/tasks?name=list-3") == [[listed[3]["id"]]]
    assert walk(api, "/v1/tasks?status=completed") == [[]]
    assert walk(api, "/v1/tasks?tag=nope") == [[]]
    api.ok("POST", f"/v1/tasks/{listed[1]['id']}/run", status=202, key="carol")
    api.wait(listed[1]["id"], key="carol")
    assert walk(api, "/v1/tasks?status=completed") == [[listed[1]["id"]]]
    assert listed[1]["id"] not in sum(walk(api, "/v1/tasks?status=initialized"), [])


@pytest.mark.parametrize("query", ["take=0", "take=101", "take=x", "order=up", "status=done"])
def test_bad_query_values_answer_400(api: ApiServer, carol: str, query: str) -> None:
    response = api.call("GET", f"/v1/tasks?{query}", key="carol")
    assert response.status == 400
    assert query.split("=")[0] in response.json["detail"]


def test_tenants_see_only_their_own(api: ApiServer, listed: list[dict[str, Any]]) -> None:
    mine = listed[0]["id"]
    unknown = "t_00000000000000000000000000"
    theirs = api.call("GET", f"/v1/tasks/{mine}", key="alice")
    nothing = api.call("GET", f"/v1/tasks/{unknown}", key="alice")
    assert theirs.status == nothing.status == 404
    assert theirs.json == {**nothing.json, "detail": f"task {mine} not found"}
    base = f"/v1/tasks/{mine}"
    for method, path in [("POST", base + "/info"), ("POST", base + "/run"),
                         ("POST", base + "/cancel"), ("PUT", base), ("DELETE", base),
                         ("GET", base + "/scheme"), ("GET", base + "/store"),
                         ("GET", base + "/pages")]:
        assert api.call(method, path, key="alice").status == 404, (method, path)
    alice_ids = sum(walk_key(api, "/v1/tasks?take=100", "alice"), [])
    assert not set(alice_ids) & {t["id"] for t in listed}
    assert api.ok("GET", base, key="carol")["status"] == "initialized"  # untouched


def walk_key(api: ApiServer, url: str | None, key: str) -> list[list[str]]:
    pages = []
    while url:
        body = api.ok("GET", url, key=key)
        pages.append([t["id"] for t in body["data"]])
        url = body["links"]["next"]
    return pages
