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


SelectorText = Annotated[str, AfterValidator(_check_selector)]
Url = Annotated[str, AfterValidator(_check_url)]
_DELAY_RANGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    selector: SelectorText
    attr: str | None = None
    many: bool = False
    filters: list[Filter] = []
    follow: FollowRule | None = None

    @property
    def query(self) -> Query:
        return parse_selector(self.selector)


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
    max_pages: int = Field(default=10_000, ge=1, le=10_000_000)
    max_items: int | None = Field(default=None, ge=1)
    timeout_s: float = Field(default=3600, gt=0, le=7 * 24 * 3600)


class Politeness(_Model):
    obey_robots: bool = True
    crawl_delay: float | str = 0.0
    concurrency: int = Field(default=8, ge=1, le=256)
    # Per host (or host:port) over crawl_delay: {"example.com": "1-5"} (the interactive
    # API's CrawlDelays).
    host_delays: dict[str, str] = {}

    @field_validator("host_delays")
    @classmethod
    def _host_delays(cls, value: dict[str, str]) -> dict[str, str]:
        for host, delay in value.items():
            spec = delay.strip().lower()
            if not host or not (spec == "robots" or _DELAY_RANGE.match(spec)
                                or re.fullmatch(r"\d+(\.\d+)?", spec)):
                raise ValueError(f"delay {delay!r} for host {host!r} must be seconds, a range "
                                 "like '1-5', or 'robots'")
        return {host.lower(): delay.strip().lower() for host, delay in value.items()}

    @field_validator("crawl_delay")
    @classmethod
    def _delay(cls, value: float | str) -> float | str:
        if isinstance(value, str):
            if value.strip().lower() == "robots":
                return "robots"
            match = _DELAY_RANGE.match(value)
            if not match:
                raise ValueError("crawl_delay must be seconds, a range like '1-5', or 'robots'")
            low, high = float(match.group(1)), float(match.group(2))
            if low > high:
                raise ValueError(f"crawl_delay range {value!r} has its low end above its high end")
            return f"{match.group(1)}-{match.group(2)}"
        if value < 0 or value > 3600:
            raise ValueError("crawl_delay must be between 0 and 3600 seconds")
        return value

    def delay_range(self) -> tuple[float, float] | None:
        """(low, high) seconds for fixed and ranged delays; None for 'robots'."""
        if isinstance(self.crawl_delay, str):
            if self.crawl_delay == "robots":
                return None
            low, high = self.crawl_delay.split("-")
            return float(low), float(high)
        return float(self.crawl_delay), float(self.crawl_delay)


class Retry(_Model):
    policy: Literal["retry", "skip"] = "retry"
    limit: int = Field(default=2, ge=0, le=20)
    delay_ms: int = Field(default=500, ge=0, le=600_000)


class RequestOptions(_Model):
    headers: dict[str, str] = {}
    cookies: bool = True
    timeout_s: float = Field(default=30, gt=0, le=600)
    max_response_kb: int = Field(default=10_240, ge=1, le=1_048_576)
    max_redirects: int = Field(default=10, ge=0, le=100)
    verify_tls: bool = True
    retry: Retry = Retry()


def _check_gate_url(value: str) -> str:
    parts = urlsplit(value)
    if scheme_problem(value) is not None or not parts.port:
        raise ValueError(f"{value!r} is not a proxy URL like http://user:pass@host:port")
    return value


class Gate(_Model):
    url: Annotated[str, AfterValidator(_check_gate_url)]
    connections_limit: int = Field(default=4, ge=1, le=1000)


class Proxy(_Model):
    use: bool = False
    fallback_direct: bool = True
    rotate_on_status: list[Annotated[int, Field(ge=100, le=599)]] = [401, 403]
    gates: list[Gate] = []


class Scheme(_Model):
    start_urls: list[Url] = Field(min_length=1, max_length=100_000)
    item: ItemRule | None = None
    paginate: Paginate | None = None
    follow: list[FollowLinks] = []
    limits: Limits = Limits()
    formats: list[Format] = Field(default=["jsonl"], min_length=1)
    politeness: Politeness = Politeness()
    request: RequestOptions = RequestOptions()
    proxy: Proxy = Proxy()

    def canonical_json(self) -> str:
        return canonical_json(self.model_dump(mode="json"))

    @property
    def payload_id(self) -> str:
        return hashlib.md5(self.canonical_json().encode()).hexdigest()


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
