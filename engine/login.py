"""Logging in before the crawl (`login`): Scrapy's `FormRequest.from_response` fills the
form's own fields (hidden ones, such as a CSRF token) and the scheme's, submits it, and the
session's cookies (Scrapy's CookiesMiddleware) stay for the whole crawl.

The start URLs and sitemaps are requested only once the `success` selector matches the page
the form led to; otherwise the run ends `error` with the reason. The field values are secrets:
only POST forms are submitted (a GET form would put them in URLs, which pages and DownloadInfo
record), and nothing here logs them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from scrapy import Request
from scrapy.exceptions import CloseSpider
from scrapy.http import FormRequest, Response, TextResponse
from twisted.python.failure import Failure

from engine.downloadermiddlewares.pages import DEPTH, page_meta
from engine.extraction.selectors import parse_selector
from engine.outcome import FAILED_REASON
from engine.scheme_web import Login

logger = logging.getLogger(__name__)


class LoginFailed(CloseSpider):
    """Ends the crawl; the run's error is the message."""

    def __init__(self, why: str) -> None:
        super().__init__(FAILED_REASON + "login failed: " + why)


class LoginFlow:
    def __init__(self, login: Login, then: Callable[[], Iterable[Request]],
                 report: Callable[[Failure], None]) -> None:
        self.login = login
        self.then = then  # the crawl's first requests, once logged in
        self.report = report  # records a failed page (the spider's page_failed)

    def request(self) -> Request:
        return Request(self.login.url, callback=self.form_page, errback=self.failed,
                       meta=page_meta(None, 0), dont_filter=True)

    def form_page(self, response: Response, **kwargs: Any) -> Iterator[Request]:
        if not isinstance(response, TextResponse):
            raise LoginFailed(f"{response.url} is not an HTML page")
        query = parse_selector(self.login.form)
        if query.kind == "jmespath":
            raise LoginFailed("the form selector must be CSS: or XPATH:")
        forms = [f for f in query.select(response.selector)
                 if not isinstance(f.root, str) and str(f.root.tag).lower() == "form"]
        if not forms:
            raise LoginFailed(f"no form matches {query} on {response.url}")
        method = (forms[0].attrib.get("method") or "get").strip().lower()
        if method != "post":
            raise LoginFailed(f"the form on {response.url} is sent with {method.upper()}, which "
                              "would put the secret fields in its URL; only POST forms are "
                              "submitted")
        where = {"formcss": query.expression} if query.kind == "css" else {
            "formxpath": query.expression}
        submit = FormRequest.from_response(
            response, formdata=dict(self.login.fields), callback=self.submitted,
            errback=self.failed, meta=page_meta(response, response.meta.get(DEPTH, 0) + 1),
            dont_filter=True, **where)  # type: ignore[arg-type]
        logger.info("submitting the login form of %s (%d fields given)", response.url,
                    len(self.login.fields))
        yield submit

    def submitted(self, response: Response, **kwargs: Any) -> Iterator[Request]:
        query = parse_selector(self.login.success)
        if not isinstance(response, TextResponse) or not query.select(response.selector):
            raise LoginFailed(f"the success selector {query} matched nothing on {response.url} "
                              "after the form was sent (wrong credentials?)")
        logger.info("logged in: %s matched on %s", query, response.url)
        yield from self.then()

    def failed(self, failure: Failure) -> None:
        self.report(failure)
        request = failure.request  # type: ignore[attr-defined]
        raise LoginFailed(f"{request.url} could not be fetched ({failure.value})")
