"""The crawl scheme (API.md section 3): validation, canonical form and payload id.

Validation uses pydantic so that every problem is reported at once, each with the path of the
offending key (`item.fields[0].selector`).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, ValidationError, field_validator, model_validator

from engine.extraction.selectors import Query, parse_selector
from engine.outbound import scheme_problem
from engine.scheme_types import (
    ConnectionsLimit,
    DelaySeconds,
    DelayText,
    Format,
    HeaderName,
    HeaderValue,
    HostName,
    MaxItems,
    MaxPages,
    RedirectHops,
    RequestTimeout,
    ResponseKb,
    RetryDelayMs,
    RetryLimit,
    RunTimeout,
    SchemeModel,
    SelectorText,
    StatusCode,
    Url,
)
from engine.scheme_web import Login, Render, SitemapRule, absent_key


class Filter(SchemeModel):
    name: Literal["trim", "lowercase", "uppercase", "capitalize", "regex"]
    param: str | None = None

    @model_validator(mode="after")
    def _regex_param(self) -> Filter:
        if self.name == "regex":
            if not self.param:
                raise ValueError("the regex filter needs a 'param' pattern")
            try:
                re.compile(self.param)
            except re.error as exc:
                raise ValueError(f"invalid regex {self.param!r}: {exc}") from None
        return self


class FieldRule(SchemeModel):
    name: str = Field(min_length=1, max_length=200)
    # None only with "attr": "markdown": the main content of the page (or of the item).
    selector: SelectorText | None = None
    attr: str | None = Field(default=None, description=(
        "An attribute name; val or absent for the inner text; markdown for the element's "
        "content as Markdown (with no selector: the page's main content). For JMESPATH: "
        "selectors, a key of a matched object."))
    many: bool = False
    filters: list[Filter] = []
    follow: FollowRule | None = None

    @model_validator(mode="after")
    def _selector_given(self) -> FieldRule:
        if self.selector is None and self.attr != "markdown":
            raise ValueError("a field needs a 'selector' (only an \"attr\": \"markdown\" field "
                             "may leave it out, for the page's main content)")
        return self

    @property
    def query(self) -> Query | None:
        return None if self.selector is None else parse_selector(self.selector)


class FollowRule(SchemeModel):
    """Fields of a linked detail page, which become the linking field's value."""

    fields: list[FieldRule] = Field(min_length=1)


def _unique_names(fields: list[FieldRule]) -> list[FieldRule]:
    names = [f.name for f in fields]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate field names: {', '.join(duplicates)}")
    return fields


class ItemRule(SchemeModel):
    selector: SelectorText | None = None
    fields: Annotated[list[FieldRule], AfterValidator(_unique_names)] = Field(min_length=1)


class Paginate(SchemeModel):
    selector: SelectorText
    max_pages: int = Field(default=100, ge=1, le=100_000)


class FollowLinks(SchemeModel):
    selector: SelectorText
    max_depth: int = Field(default=1, ge=1, le=100)


class Limits(SchemeModel):
    max_pages: MaxPages = 10_000
    max_items: MaxItems | None = None
    timeout_s: RunTimeout = 3600


class Politeness(SchemeModel):
    obey_robots: bool = True
    crawl_delay: DelaySeconds | DelayText = 0.0
    concurrency: int = Field(default=8, ge=1, le=256)
    # Per host (or host:port) over crawl_delay: {"example.com": "1-5"} (the interactive
    # API's CrawlDelays).
    host_delays: dict[HostName, DelayText] = {}

    @field_validator("host_delays")
    @classmethod
    def _host_delays(cls, value: dict[str, str]) -> dict[str, str]:
        return {host.lower(): delay for host, delay in value.items()}

    def delay_range(self) -> tuple[float, float] | None:
        """(low, high) seconds for fixed and ranged delays; None for 'robots'."""
        if isinstance(self.crawl_delay, str):
            if self.crawl_delay == "robots":
                return None
            low, _, high = self.crawl_delay.partition("-")  # "5" or "1-5"
            return float(low), float(high or low)
        return float(self.crawl_delay), float(self.crawl_delay)


class Retry(SchemeModel):
    policy: Literal["retry", "skip"] = "retry"
    limit: RetryLimit = 2
    delay_ms: RetryDelayMs = 500


class RequestOptions(SchemeModel):
    headers: dict[HeaderName, HeaderValue] = {}
    cookies: bool = True
    timeout_s: RequestTimeout = 30
    max_response_kb: ResponseKb = 10_240
    max_redirects: RedirectHops = 10
    verify_tls: bool = True
    retry: Retry = Retry()


def _check_gate_url(value: str) -> str:
    parts = urlsplit(value)
    if scheme_problem(value) is not None or not parts.port:
        raise ValueError(f"{value!r} is not a proxy URL like http://user:pass@host:port")
    return value


class Gate(SchemeModel):
    url: Annotated[str, AfterValidator(_check_gate_url)]
    connections_limit: ConnectionsLimit = 4


class Proxy(SchemeModel):
    use: bool = False
    fallback_direct: bool = True
    rotate_on_status: list[StatusCode] = [401, 403]
    gates: list[Gate] = []


class Scheme(SchemeModel):
    start_urls: list[Url] = Field(default=[], max_length=100_000)
    item: ItemRule | None = None
    paginate: Paginate | None = None
    follow: list[FollowLinks] = []
    limits: Limits = Limits()
    formats: list[Format] = Field(default=["jsonl"], min_length=1)
    politeness: Politeness = Politeness()
    request: RequestOptions = RequestOptions()
    proxy: Proxy = Proxy()
    # The real web (issue 15): sitemaps, a login. Keys for later work go after these.
    sitemap_urls: list[Url] = Field(default=[], max_length=10_000, description=(
        "Sitemaps, sitemap indexes (gzipped or not) or robots.txt files whose Sitemap: lines "
        "are followed; their pages get the item rules. Replaces or adds to start_urls."))
    sitemap_rules: list[SitemapRule] = Field(default=[], description=(
        "Only sitemap page URLs that match one of these regular expressions are crawled."))
    login: Login | None = Field(default=None, description=(
        "A login form submitted before the start URLs; its session cookies stay for the crawl."
        " Field values are secrets, shown as *** by every answer."))

    @model_validator(mode="after")
    def _where_to_start(self) -> Scheme:
        if not self.start_urls and not self.sitemap_urls:
            raise ValueError("give 'start_urls' or 'sitemap_urls' (or both)")
        if self.login is not None and not self.request.cookies:
            raise ValueError("'login' needs cookies: set request.cookies to true")
        return self
    render: Render | None = absent_key()

    @property
    def renders(self) -> bool:
        return self.render is not None and self.render.enabled
    # Crawl processes on this run's frontier at once (engine/frontier/); the launcher caps it
    # at CRAWLPLANE_MAX_RUN_PROCESSES.
    processes: int = Field(default=1, ge=1, le=64)

    def canonical_json(self) -> str:
        data = self.model_dump(mode="json")
        if data.get("processes") == 1:  # the default: payload ids as before the key existed
            del data["processes"]
        return canonical_json(data)

    @property
    def payload_id(self) -> str:
        return payload_id_of(self.model_dump(mode="json"))


def payload_id_of(data: dict[str, Any]) -> str:
    """The payload id of a scheme as stored (`model_dump(mode="json")`), of its redacted form:
    the id says nothing about the login secrets."""
    return hashlib.md5(canonical_json(redact_scheme(data)).encode()).hexdigest()


REDACTED = "***"


def redact_scheme(data: Any) -> Any:
    """Scheme data (a dict, as stored) with its login field values shown as `REDACTED`: what
    every read path returns (GET .../scheme, schedules). The store keeps the values: the crawl
    needs them to log in."""
    if not isinstance(data, dict) or not isinstance(data.get("login"), dict):
        return data
    login = data["login"]
    fields = login.get("fields")
    if isinstance(fields, dict):
        login = {**login, "fields": {name: REDACTED for name in fields}}
    return {**data, "login": login}


class SchemeError(ValueError):
    """A scheme that fails validation; `errors` maps each offending path to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{path}: {', '.join(msgs)}" for path, msgs in errors.items()))
        self.errors = errors


def error_path(loc: tuple[str | int, ...], prefix: str = "") -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "$"


def validation_errors(exc: ValidationError, prefix: str = "") -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for err in exc.errors(include_url=False):
        # Drop pydantic's union-branch markers ("float", "str") and function names from paths.
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        errors.setdefault(error_path(loc, prefix), []).append(message)
    return errors


def parse_scheme(data: Any) -> Scheme:
    """Validate scheme data (a dict, or JSON text); raises SchemeError with every problem."""
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise SchemeError({"$": [f"not valid JSON: {exc}"]}) from None
    try:
        return Scheme.model_validate(data)
    except ValidationError as exc:
        raise SchemeError(validation_errors(exc)) from None


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
