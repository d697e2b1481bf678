"""The outbound guard of stored runs on its own, with private targets off (the default of a
server): every request and every redirect target must be http or https with a host, whatever
produced it. The end-to-end case is tests/api/test_outbound_schemes.py; this one needs no site
(a loopback site would be refused here before any of its links were seen)."""

from __future__ import annotations

import asyncio

import pytest
from scrapy import Request
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from engine.downloadermiddlewares.guard import OutboundGuardMiddleware, TargetRefused

# A host name would be resolved with the crawl's reactor, which does not run here: a guard
# that gets that far (instead of refusing the scheme) waits forever.
pytestmark = pytest.mark.timeout(20)

NOT_HTTP = {
    "file:///etc/passwd": "file",
    "FILE:///etc/passwd": "file",
    "file://localhost/etc/passwd": "file",
    "data:text/plain,secret": "data",
    "ftp://127.0.0.1/x": "ftp",
    "s3://bucket/key": "s3",
}


def guard(allow_private: bool = False) -> OutboundGuardMiddleware:
    crawler = get_crawler(settings_dict={"CRAWLPLANE_RUN_ID": "r_test",
                                         "CRAWLPLANE_ALLOW_PRIVATE_TARGETS": allow_private})
    return OutboundGuardMiddleware.from_crawler(crawler)


def refusal(middleware: OutboundGuardMiddleware, url: str) -> str:
    with pytest.raises(TargetRefused) as refused:
        asyncio.run(middleware.process_request(Request(url)))
    return str(refused.value)


@pytest.mark.parametrize("allow_private", [False, True])
@pytest.mark.parametrize(("url", "scheme"), NOT_HTTP.items())
def test_a_request_that_is_not_http_is_refused(url: str, scheme: str,
                                                allow_private: bool) -> None:
    message = refusal(guard(allow_private), url)
    assert message.startswith("refused: ") and f"scheme '{scheme}'" in message, message


@pytest.mark.parametrize("allow_private", [False, True])
def test_an_http_url_without_a_host_is_refused(allow_private: bool) -> None:
    assert "has no host" in refusal(guard(allow_private), "http:///etc/passwd")


def test_loopback_is_still_refused_when_private_targets_are_off() -> None:
    assert "loopback" in refusal(guard(), "HTTP://127.0.0.1:8080/")
    asyncio.run(guard(allow_private=True).process_request(Request("HTTP://127.0.0.1:8080/")))


@pytest.mark.parametrize("location", ["file:///etc/passwd", "FILE:///etc/passwd",
                                      "data:text/plain,secret"])
def test_a_redirect_to_a_url_that_is_not_http_is_refused(location: str) -> None:
    """Scrapy's RedirectMiddleware does not follow it and hands back the 3xx response; the
    guard turns that into a refusal, so the page records why."""
    request = Request("http://203.0.113.7/r/")
    response = HtmlResponse(request.url, status=302, headers={"Location": location},
                            request=request)
    with pytest.raises(TargetRefused, match="scheme '(file|data)'"):
        guard(allow_private=True).process_response(request, response)
    ordinary = HtmlResponse(request.url, status=302, headers={"Location": "/next/"},
                            request=request)
    assert guard().process_response(request, ordinary) is ordinary


def test_a_developer_crawl_is_not_guarded() -> None:
    with pytest.raises(NotConfigured):
        OutboundGuardMiddleware.from_crawler(get_crawler())
