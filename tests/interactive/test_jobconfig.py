"""JobConfig (PascalCase, Web Data Source) to the scheme the job's crawl runs with."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from control_api.web.jobconfig import JobConfig


def test_every_part_maps_to_the_scheme() -> None:
    config = JobConfig.model_validate({
        "StartUrls": ["https://example.com/a", "https://example.com/b"],
        "Headers": {"DefaultRequestHeaders": [{"Name": "Accept-Language",
                                               "Values": ["en", "de;q=0.5"]}]},
        "Cookies": {"UseCookies": False},
        "Https": {"SuppressHttpsCertificateValidation": True},
        "Proxy": {"UseProxy": True, "SendOvertRequestsOnProxiesFailure": False,
                  "IterateProxyResponseCodes": "401, 403, 429",
                  "Proxies": [{"Protocol": "http", "Host": "proxy.example", "Port": 3128,
                               "UserName": "u@x", "Password": "p:w", "ConnectionsLimit": 2}]},
        "DownloadErrorHandling": {"Policy": "skip",
                                  "RetryPolicyParams": {"RetryDelayMs": 250, "RetriesLimit": 3}},
        "CrawlersProtectionBypass": {"MaxResponseSizeKb": 512, "MaxRedirectHops": 3,
                                     "RequestTimeoutSec": 12.5,
                                     "CrawlDelays": [{"Host": "*", "Delay": "robots"},
                                                     {"Host": "Slow.example", "Delay": "1-5"}]},
        "Restart": {"JobRestartMode": "FromScratch"},
    })
    assert config.from_scratch
    scheme = config.scheme()
    assert scheme.start_urls == ["https://example.com/a", "https://example.com/b"]
    assert scheme.request.headers == {"Accept-Language": "en, de;q=0.5"}
    assert scheme.request.cookies is False and scheme.request.verify_tls is False
    assert (scheme.request.max_response_kb, scheme.request.max_redirects,
            scheme.request.timeout_s) == (512, 3, 12.5)
    assert scheme.request.retry.model_dump() == {"policy": "skip", "limit": 3, "delay_ms": 250}
    assert scheme.proxy.use and not scheme.proxy.fallback_direct
    assert scheme.proxy.rotate_on_status == [401, 403, 429]
    assert [g.model_dump() for g in scheme.proxy.gates] == [
        {"url": "http://u%40x:p%3Aw@proxy.example:3128", "connections_limit": 2}]
    assert scheme.politeness.crawl_delay == "robots"
    assert scheme.politeness.host_delays == {"slow.example": "1-5"}


def test_defaults_are_the_scheme_defaults() -> None:
    config = JobConfig.model_validate({"StartUrls": ["http://example.com/"]})
    assert not config.from_scratch
    scheme = config.scheme()
    assert scheme.request.retry.policy == "retry" and scheme.politeness.crawl_delay == 0
    assert scheme.proxy.use is False and scheme.request.headers == {}


def test_bad_values_name_their_path() -> None:
    with pytest.raises(ValidationError) as caught:
        JobConfig.model_validate({"StartUrls": ["http://example.com/"],
                                  "Proxy": {"IterateProxyResponseCodes": "401, x"},
                                  "DownloadErrorHandling": {"Policy": "Sometimes"}})
    locations = {tuple(e["loc"])[:2] for e in caught.value.errors()}
    assert ("Proxy", "IterateProxyResponseCodes") in locations
    assert ("DownloadErrorHandling", "Policy") in locations


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        JobConfig.model_validate({"StartUrls": ["http://example.com/"],
                                  "SomethingNewer": {"Ignored": True}})
    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [
        (("SomethingNewer",), "extra_forbidden")]
