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

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from engine.extraction.selectors import Query, SelectorSyntaxError, parse_selector
from engine.outbound import scheme_problem

FORMATS = ("json", "jsonl", "csv", "xml", "xlsx")
Format = Literal["json", "jsonl", "csv", "xml", "xlsx"]


def _check_selector(value: str) -> str:
    try:
        parse_selector(value)
    except SelectorSyntaxError as exc:
        raise ValueError(str(exc)) from None
    return value


def _check_url(value: str) -> str:
    # the crawl's guard applies the same rule (engine/downloadermiddlewares/guard.py)
    problem = scheme_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _schema(**keywords: Any) -> Any:
    """JSON Schema keywords for the served OpenAPI document that say what a validator checks
    (the validator itself gives the clearer message). Case is spelled out in patterns: JSON
    Schema patterns have no inline flags."""
    return Field(json_schema_extra=keywords)


# The served pattern of a selector (also /api/v2's, control_api/web/openapi_v2.py).
SELECTOR_PATTERN = (r"^\s*([Cc][Ss][Ss]|[Xx][Pp][Aa][Tt][Hh]|[Jj][Mm][Ee][Ss][Pp][Aa][Tt][Hh])"
                    r"\s*:")
SelectorText = Annotated[str, AfterValidator(_check_selector),
                         _schema(minLength=1, pattern=SELECTOR_PATTERN)]
Url = Annotated[str, Field(max_length=8192), AfterValidator(_check_url),
                _schema(minLength=1, pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#:@]")]
_DELAY_RANGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*$")

# One bound per quantity, used by the scheme and by the JobConfig fields mapped onto it
# (control_api/jobconfig.py), so /v1 and /api/v2 refuse the same values.
MAX_DELAY_S = 3600.0


def _check_delay(value: str) -> str:
    """Seconds, a range "low-high" or "robots", each number at most MAX_DELAY_S."""
    spec = value.strip().lower()
    if spec == "robots":
        return spec
    match = _DELAY_RANGE.match(spec) or re.fullmatch(r"(\d+(?:\.\d+)?)", spec)
    if not match:
        raise ValueError(f"delay {value!r} must be seconds, a range like '1-5', or 'robots'")
    numbers = [float(n) for n in match.groups()]
    if numbers[0] > numbers[-1]:
        raise ValueError(f"delay range {value!r} has its low end above its high end")
    if numbers[-1] > MAX_DELAY_S:
        raise ValueError(f"delay {value!r} is over {MAX_DELAY_S:g} seconds")
    return "-".join(match.groups())


_DELAY_PATTERN = r"^\s*([Rr][Oo][Bb][Oo][Tt][Ss]|\d+(\.\d+)?(\s*-\s*\d+(\.\d+)?)?)\s*$"
DelayText = Annotated[str, AfterValidator(_check_delay), _schema(pattern=_DELAY_PATTERN)]
DelaySeconds = Annotated[float, Field(ge=0, le=MAX_DELAY_S, allow_inf_nan=False)]
# A request's timeout and a whole run's: below these nothing can be fetched at all.
RequestTimeout = Annotated[float, Field(ge=0.1, le=600, allow_inf_nan=False)]
RunTimeout = Annotated[float, Field(ge=1, le=7 * 24 * 3600, allow_inf_nan=False)]
MaxPages = Annotated[int, Field(ge=1, le=10_000_000)]
MaxItems = Annotated[int, Field(ge=1, le=100_000_000)]
ResponseKb = Annotated[int, Field(ge=1, le=1_048_576)]
RedirectHops = Annotated[int, Field(ge=0, le=100)]
RetryLimit = Annotated[int, Field(ge=0, le=20)]
RetryDelayMs = Annotated[int, Field(ge=0, le=600_000)]
ConnectionsLimit = Annotated[int, Field(ge=1, le=1000)]
StatusCode = Annotated[int, Field(ge=100, le=599)]
# RFC 7230: a header name is a token; a value must not end the header line (CR, LF) or carry
# NUL, which would make every request of the task fail while the task says "completed".
_TOKEN = r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$"
_FIELD_VALUE = r"^[^\r\n\x00]*$"


def _check_header_name(value: str) -> str:
    if not re.fullmatch(_TOKEN, value):
        raise ValueError(f"header name {value!r} is not an RFC 7230 token (letters, digits "
                         "and !#$%&'*+-.^_`|~ only)")
    return value


def _check_header_value(value: str) -> str:
    if not re.fullmatch(_FIELD_VALUE, value):
        raise ValueError("a header value may not contain CR, LF or NUL")
    return value


HeaderName = Annotated[str, Field(max_length=256), AfterValidator(_check_header_name),
                       _schema(pattern=_TOKEN)]
HeaderValue = Annotated[str, Field(max_length=8192), AfterValidator(_check_header_value),
                        _schema(pattern=_FIELD_VALUE)]
HostName = Annotated[str, Field(min_length=1, max_length=260, pattern=r"^[^\s/?#@]+$")]


class _Model(BaseModel):
    # Strict: JSON's types as the served JSON Schema states them (false is not 0, "1" not 1).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Filter(_Model):
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


class FieldRule(_Model):
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


class FollowRule(_Model):
    """Fields of a linked detail page, which become the linking field's value."""

    fields: list[FieldRule] = Field(min_length=1)


def _unique_names(fields: list[FieldRule]) -> list[FieldRule]:
    names = [f.name for f in fields]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate field names: {', '.join(duplicates)}")
    return fields


class ItemRule(_Model):
    selector: SelectorText | None = None
    fields: Annotated[list[FieldRule], AfterValidator(_unique_names)] = Field(min_length=1)


class Paginate(_Model):
    selector: SelectorText
    max_pages: int = Field(default=100, ge=1, le=100_000)


class FollowLinks(_Model):
    selector: SelectorText
    max_depth: int = Field(default=1, ge=1, le=100)


class Limits(_Model):
    max_pages: MaxPages = 10_000
    max_items: MaxItems | None = None
    timeout_s: RunTimeout = 3600


class Politeness(_Model):
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


class Retry(_Model):
    policy: Literal["retry", "skip"] = "retry"
    limit: RetryLimit = 2
    delay_ms: RetryDelayMs = 500


class RequestOptions(_Model):
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


class Gate(_Model):
    url: Annotated[str, AfterValidator(_check_gate_url)]
    connections_limit: ConnectionsLimit = 4


class Proxy(_Model):
    use: bool = False
    fallback_direct: bool = True
    rotate_on_status: list[StatusCode] = [401, 403]
    gates: list[Gate] = []


class SitemapRule(_Model):
    """Page URLs of the sitemaps matching `pattern` (a regular expression, searched) are
    crawled."""

    pattern: str = Field(min_length=1, max_length=2000)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regex {value!r}: {exc}") from None
        return value


class Login(_Model):
    """A login form submitted before the start URLs (engine/login.py). `fields` values are
    secrets: every read path shows them redacted (`redact_scheme`)."""

    url: Url
    form: SelectorText = "CSS: form"
    fields: dict[Annotated[str, Field(min_length=1, max_length=200)],
                 Annotated[str, Field(max_length=8192)]] = Field(min_length=1)
    success: SelectorText
WaitMs = Annotated[int, Field(ge=0, le=60_000)]


def _absent() -> Any:
    """An optional key that stays out of the canonical form when absent (older schemes keep
    their payload id; an action shows only its own keys)."""
    return Field(default=None, exclude_if=lambda value: value is None)


class Action(_Model):
    """One step on a rendered page, in order: `{"click": sel}`, `{"scroll": "bottom",
    "repeat": N, "wait_ms": M}`, `{"wait_for": sel}` or `{"wait_ms": M}`."""

    click: SelectorText | None = _absent()
    scroll: Literal["bottom"] | None = _absent()
    repeat: Annotated[int, Field(ge=1, le=200)] | None = _absent()
    wait_for: SelectorText | None = _absent()
    wait_ms: WaitMs | None = _absent()

    @model_validator(mode="after")
    def _one_kind(self) -> Action:
        kinds = [k for k in ("click", "scroll", "wait_for") if getattr(self, k) is not None]
        if len(kinds) > 1 or (kinds and kinds != ["scroll"] and self.wait_ms is not None):
            raise ValueError("an action is one of click, scroll, wait_for or wait_ms")
        if not kinds and self.wait_ms is None:
            raise ValueError("an action needs click, scroll, wait_for or wait_ms")
        if self.repeat is not None and self.scroll is None:
            raise ValueError("'repeat' goes with 'scroll' only")
        return self


class Render(_Model):
    """Pages rendered in headless Chromium (engine/rendering.py): after the page loads, wait
    for `wait_for`, run `actions` in order, then wait `wait_ms`; `timeout_s` bounds it all."""

    enabled: bool = True
    wait_for: SelectorText | None = None
    wait_ms: WaitMs = 0
    timeout_s: RequestTimeout = 30
    actions: list[Action] = Field(default=[], max_length=100)


class Scheme(_Model):
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
    render: Render | None = _absent()

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
        # Of the redacted scheme: the id says nothing about the login secrets.
        return hashlib.md5(canonical_json(redact_scheme(self.model_dump(mode="json")))
                           .encode()).hexdigest()


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
