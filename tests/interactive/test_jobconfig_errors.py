"""JobConfig errors in JobConfig's own names (API.md section 4): unknown keys refused at every
level, the scheme's bounds and header rules applied, and every path a field the client sent."""

from __future__ import annotations

from typing import Any

import pytest

from tests.interactive.conftest import Server

URL = "http://127.0.0.1:9/"


def errors_of(server: Server, config: dict[str, Any]) -> dict[str, list[str]]:
    answer = server.client("jobconfig-errors").call("POST", "/api/v2/jobs/errs/start", config)
    assert answer.status == 422, (answer.status, answer.body[:300])
    assert answer.headers["content-type"] == "application/problem+json"
    errors: dict[str, list[str]] = answer.json["errors"]
    assert not any(path.startswith("scheme") for path in errors), errors
    return errors


@pytest.mark.parametrize("config, path", [
    ({"StartUrls": [URL], "SomethingNewer": 1}, "SomethingNewer"),
    ({"StartUrls": [URL], "Proxy": {"UseProxy": True, "Extra": 1}}, "Proxy.Extra"),
    ({"StartUrls": [URL], "Proxy": {"Proxies": [{"Host": "p.example", "Port": 3128,
                                                 "Typo": "x"}]}},
     "Proxy.Proxies[0].Typo"),
])
def test_unknown_keys_are_422_at_every_level(server: Server, config: dict[str, Any],
                                             path: str) -> None:
    assert errors_of(server, config)[path] == ["unknown key"]


@pytest.mark.parametrize("bypass, path", [
    ({"CrawlDelays": [{"Host": "*", "Delay": "99999999-999999999"}]},
     "CrawlersProtectionBypass.CrawlDelays[0].Delay"),
    ({"CrawlDelays": [{"Host": "*", "Delay": "1"},
                      {"Host": "slow.example", "Delay": "99999999"}]},
     "CrawlersProtectionBypass.CrawlDelays[1].Delay"),
    ({"RequestTimeoutSec": 1e-300}, "CrawlersProtectionBypass.RequestTimeoutSec"),
    ({"MaxRedirectHops": 101}, "CrawlersProtectionBypass.MaxRedirectHops"),
    ({"MaxResponseSizeKb": 0}, "CrawlersProtectionBypass.MaxResponseSizeKb"),
    ({"MaxRedirectHops": False}, "CrawlersProtectionBypass.MaxRedirectHops"),
])
def test_bounds_are_the_schemes(server: Server, bypass: dict[str, Any], path: str) -> None:
    assert path in errors_of(server, {"StartUrls": [URL], "CrawlersProtectionBypass": bypass})


def test_bad_headers_name_their_entry(server: Server) -> None:
    errors = errors_of(server, {"StartUrls": [URL], "Headers": {"DefaultRequestHeaders": [
        {"Name": "X-Ok", "Values": ["1"]},
        {"Name": "X-Bad\r\nInjected", "Values": ["1"]},
        {"Name": "X-Value", "Values": ["a\r\nInjected: 1"]}]}})
    assert "Headers.DefaultRequestHeaders[1].Name" in errors
    assert "Headers.DefaultRequestHeaders[2].Values[0]" in errors


def test_scheme_level_errors_map_back(server: Server) -> None:
    errors = errors_of(server, {"StartUrls": [URL], "Proxy": {
        "UseProxy": True, "Proxies": [{"Host": "p.example", "Port": 3128},
                                      {"Host": "bad host/x", "Port": 3128}]}})
    assert list(errors) == ["Proxy.Proxies[1].Host"]


def test_outbound_refusals_name_jobconfig_fields(server: Server) -> None:
    # Metadata addresses are refused even with private targets allowed (no DNS involved).
    errors = errors_of(server, {"StartUrls": [URL, "http://169.254.169.254/x"], "Proxy": {
        "UseProxy": True, "Proxies": [{"Host": "169.254.169.254", "Port": 80}]}})
    assert set(errors) == {"StartUrls[1]", "Proxy.Proxies[0].Host"}


def test_selectors_with_control_characters_are_400_not_500(server: Server) -> None:
    # lxml refuses them with a plain ValueError (found by fuzzing .../scrape and .../crawl).
    client = server.client("control-chars")
    for path in ("scrape", "crawl"):
        answer = client.call("GET", f"/api/v2/tasks/p_none/{path}",
                             params={"selector": "XPATH: //a\x0c[\x08]"})
        assert answer.status == 400, (path, answer.status, answer.body[:200])
