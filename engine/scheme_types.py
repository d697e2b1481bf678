"""The scheme's building blocks (API.md section 3): one bound per quantity, shared by /v1 and
/api/v2 (JobConfig), the selector, URL, delay and header types, and the strict base model."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from engine.extraction.selectors import SelectorSyntaxError, parse_selector
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


class SchemeModel(BaseModel):
    # Strict: JSON's types as the served JSON Schema states them (false is not 0, "1" not 1).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
