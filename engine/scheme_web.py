"""Scheme parts for the real web (issue 15): sitemap rules, a login form, rendering."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from engine.scheme_types import RequestTimeout, SchemeModel, SelectorText, Url


class SitemapRule(SchemeModel):
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


class Login(SchemeModel):
    """A login form submitted before the start URLs (engine/login.py). `fields` values are
    secrets: every read path shows them redacted (`redact_scheme`)."""

    url: Url
    form: SelectorText = "CSS: form"
    fields: dict[Annotated[str, Field(min_length=1, max_length=200)],
                 Annotated[str, Field(max_length=8192)]] = Field(min_length=1)
    success: SelectorText


WaitMs = Annotated[int, Field(ge=0, le=60_000)]


def absent_key() -> Any:
    """An optional key that stays out of the canonical form when absent (older schemes keep
    their payload id; an action shows only its own keys)."""
    return Field(default=None, exclude_if=lambda value: value is None)


class Action(SchemeModel):
    """One step on a rendered page, in order: `{"click": sel}`, `{"scroll": "bottom",
    "repeat": N, "wait_ms": M}`, `{"wait_for": sel}` or `{"wait_ms": M}`."""

    click: SelectorText | None = absent_key()
    scroll: Literal["bottom"] | None = absent_key()
    repeat: Annotated[int, Field(ge=1, le=200)] | None = absent_key()
    wait_for: SelectorText | None = absent_key()
    wait_ms: WaitMs | None = absent_key()

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


class Render(SchemeModel):
    """Pages rendered in headless Chromium (engine/rendering.py): after the page loads, wait
    for `wait_for`, run `actions` in order, then wait `wait_ms`; `timeout_s` bounds it all."""

    enabled: bool = True
    wait_for: SelectorText | None = None
    wait_ms: WaitMs = 0
    timeout_s: RequestTimeout = 30
    actions: list[Action] = Field(default=[], max_length=100)
