"""`CSS: ...` / `XPATH: ...` selector strings: parsing, validation and evaluation with parsel."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from cssselect import SelectorError
from lxml import etree
from parsel import Selector, SelectorList
from parsel.csstranslator import css2xpath

_PREFIX = re.compile(r"^\s*(css|xpath)\s*:\s?(.*)$", re.IGNORECASE | re.DOTALL)


class SelectorSyntaxError(ValueError):
    """A selector that is not `CSS: <css>` / `XPATH: <xpath>`, or whose expression is invalid."""


@dataclass(frozen=True)
class Query:
    kind: Literal["css", "xpath"]
    expression: str

    def select(self, node: Selector) -> SelectorList[Selector]:
        if self.kind == "css":
            return node.css(self.expression)
        return node.xpath(self.expression)

    def __str__(self) -> str:
        return f"{self.kind.upper()}: {self.expression}"


@lru_cache(maxsize=1024)  # extraction asks again for every page and item: parse once
def parse_selector(text: str) -> Query:
    """Parse and validate a selector string; raises SelectorSyntaxError naming the problem."""
    match = _PREFIX.match(text)
    if not match:
        raise SelectorSyntaxError(f"selector {text!r} must start with 'CSS:' or 'XPATH:'")
    kind = match.group(1).lower()
    expression = match.group(2).strip()
    if not expression:
        raise SelectorSyntaxError(f"selector {text!r} has an empty expression")
    try:
        if kind == "css":
            css2xpath(expression)
        else:
            etree.XPath(expression)
    # ValueError: lxml refuses control characters ("All strings must be XML compatible").
    except (SelectorError, etree.XPathError, ValueError) as exc:
        raise SelectorSyntaxError(f"invalid {kind.upper()} selector {expression!r}: {exc}") from exc
    return Query("css" if kind == "css" else "xpath", expression)
