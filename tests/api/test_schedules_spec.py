"""/v1/schedules answers as the served OpenAPI spec describes (the `api` client checks every
answer against it): create, list, show, delete, and a 422 naming the bad cron field."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import ApiServer


def test_schedule_routes_match_the_spec(api: ApiServer, quotes_scheme: dict[str, Any]) -> None:
    created = api.ok("POST", "/v1/schedules",
                     {"cron": "0 3 * * *", "scheme": quotes_scheme, "name": "nightly"}, 201)
    assert created["cron"] == "0 3 * * *" and created["next_run_at"].endswith("Z")
    listed = api.ok("GET", "/v1/schedules")["data"]
    assert created["id"] in [s["id"] for s in listed]
    assert api.ok("GET", f"/v1/schedules/{created['id']}")["name"] == "nightly"

    bad = api.call("POST", "/v1/schedules", {"cron": "not a cron", "scheme": quotes_scheme})
    assert bad.status == 422 and "cron" in bad.json["errors"]

    assert api.call("DELETE", f"/v1/schedules/{created['id']}").status == 204
    assert api.call("GET", f"/v1/schedules/{created['id']}").status == 404
