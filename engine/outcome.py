"""A run's outcome (API.md section 2, DESIGN.md decision 9): why its pages failed, what to warn
about, and whether it succeeded at all.

Every failed page counts under one key of `FAILURE_KEYS`:

    http_<code>       a final response that is not 2xx (or 304), e.g. http_404, http_500
    dns               the host name did not resolve
    connection        no connection, or it broke (refused, reset, closed mid-response)
    timeout           no answer in time
    tls               the TLS handshake failed
    robots            refused by the site's robots.txt
    refused           refused by the outbound rules (scheme, private or metadata address)
    gates_exhausted   every request gate (proxy or direct) failed
    other             anything else (too many redirects, a body too big, ...)

A crawl run (not an interactive job) in which no page succeeded ends `error`, the reason
naming why (`all 1 start URLs failed: connection refused`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from engine.store.status import GATES_EXHAUSTED, ROBOTS_DENIED

# A crawl closed with the reason "failed: <why>" (e.g. by raising CloseSpider) ends `error`,
# its error saying why (engine/login.py).
FAILED_REASON = "failed: "
HTTP_KEY = re.compile(r"^http_[1-5]\d\d$")
FAILURE_KEYS = ("http_<code>", "dns", "connection", "timeout", "tls", "robots", "refused",
                "gates_exhausted", "other")

# (key, words in the error text "ExceptionType: message", lower case, any of which decides)
_BY_ERROR: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("refused", ("targetrefused", "refused: ")),
    ("dns", ("dnslookuperror", "cannotresolvehosterror", "dns lookup failed")),
    ("timeout", ("timeouterror", "timed out", "took longer than")),
    ("tls", ("openssl", "sslerror", "ssl.error", "certificate verify", "handshake")),
    ("connection", ("connectionrefusederror", "connectionlost", "connectionerror",
                    "connectionreset", "connectiondone", "connection was closed",
                    "responseneverreceived", "responsefailed", "connectbindererror",
                    "nosuchhost", "connection refused", "potentialdataloss",
                    "downloadfailederror", "responsedatalosserror")),
)


def is_success_status(status: int | None) -> bool:
    return status is not None and (200 <= status < 300 or status == 304)


def failure_key(page: Mapping[str, Any]) -> str | None:
    """The reason a page (a row of the pages table) failed, or None when it succeeded."""
    state = page.get("state")
    if state == ROBOTS_DENIED:
        return "robots"
    if state == GATES_EXHAUSTED:
        return "gates_exhausted"
    error = page.get("error")
    status = page.get("http_status")
    if not error:
        if status is None:
            return None if state is not None and state != "Handled" else "other"
        return None if is_success_status(status) else f"http_{status}"
    text = str(error).lower()
    for key, words in _BY_ERROR:
        if any(word in text for word in words):
            return key
    return "other"


def page_error(page: Mapping[str, Any]) -> str | None:
    """A page's error as the pages list shows it: the recorded one, or its HTTP status."""
    if page.get("error"):
        return str(page["error"])
    key = failure_key(page)
    if key is None or not HTTP_KEY.match(key):
        return None
    return f"HTTP {page['http_status']}{_phrase(int(page['http_status']))}"


def _phrase(status: int) -> str:
    try:
        return f" {HTTPStatus(status).phrase}"
    except ValueError:
        return ""


def describe(key: str, example: str | None) -> str:
    """A failure key in words, `connection refused` rather than `connection` when the error
    says so."""
    if HTTP_KEY.match(key):
        return f"HTTP {key[5:]}"
    if key == "connection" and example and "refused" in example.lower():
        return "connection refused"
    return {"dns": "DNS lookup failed", "timeout": "timed out", "tls": "TLS failed",
            "robots": "refused by robots.txt", "refused": "refused by the outbound rules",
            "gates_exhausted": "all request gates failed", "connection": "connection failed",
            }.get(key, "failed")


class Outcome:
    """What a crawl process saw of its pages, counted as they finish."""

    def __init__(self) -> None:
        self.succeeded = 0
        self.failures: Counter[str] = Counter()
        self.examples: dict[str, str] = {}  # key -> the first error text seen for it
        self.failed_start_urls = 0
        self.failed_other = 0

    def add(self, page: Mapping[str, Any]) -> None:
        key = failure_key(page)
        if key is None:
            self.succeeded += 1
            return
        self.failures[key] += 1
        self.examples.setdefault(key, str(page.get("error") or ""))
        if page.get("depth", 0) == 0:
            self.failed_start_urls += 1
        else:
            self.failed_other += 1

    def all_failed(self) -> str | None:
        """The error of a run in which no page succeeded, None when one did."""
        if self.succeeded:
            return None
        failed = sum(self.failures.values())
        if not failed:
            return "no page was crawled"
        reasons = self.failures.most_common()
        if len(reasons) == 1:
            why = describe(reasons[0][0], self.examples.get(reasons[0][0]))
        else:
            why = ", ".join(f"{describe(k, self.examples.get(k))} ({n})" for k, n in reasons)
        what = "start URLs" if not self.failed_other else "pages"
        return f"all {failed} {what} failed: {why}"
