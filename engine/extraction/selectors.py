"""`CSS: ...` / `XPATH: ...` / `JMESPATH: ...` selector strings: parsing, validation and
evaluation with parsel.

CSS and XPath select in HTML and XML pages, JMESPath in JSON responses (parsel's JSON
selector). A selector of the other kind matches nothing (a JMESPath selector on an HTML page,
a CSS one on a JSON response), so one scheme may mix listing pages and JSON endpoints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import jmespath
from cssselect import SelectorError
from jmespath.exceptions import JMESPathError
from lxml import etree
from parsel import Selector, SelectorList
from parsel.csstranslator import css2xpath

_PREFIX = re.compile(r"^\s*(css|xpath|jmespath)\s*:\s?(.*)$", re.IGNORECASE | re.DOTALL)
Kind = Literal["css", "xpath", "jmespath"]


class SelectorSyntaxError(ValueError):
    """A selector that is not `CSS:` / `XPATH:` / `JMESPATH: <expr>`, or whose expression is
    invalid."""


def is_json(node: Selector) -> bool:
    return node.type == "json"


@dataclass(frozen=True)
class Query:
    kind: Kind
    expression: str

    def select(self, node: Selector) -> SelectorList[Selector]:
        if self.kind == "jmespath":
            return node.jmespath(self.expression) if is_json(node) else SelectorList()
        if is_json(node):  # CSS and XPath have nothing to match in JSON
            return SelectorList()
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
        raise SelectorSyntaxError(
            f"selector {text!r} must start with 'CSS:', 'XPATH:' or 'JMESPATH:'")
    kind: Kind = match.group(1).lower()  # type: ignore[assignment]
    expression = match.group(2).strip()
    if not expression:
        raise SelectorSyntaxError(f"selector {text!r} has an empty expression")
    try:
        if kind == "css":
            css2xpath(expression)
        elif kind == "xpath":
            etree.XPath(expression)
        else:
            jmespath.compile(expression)
    # ValueError: lxml refuses control characters ("All strings must be XML compatible").
    except (SelectorError, etree.XPathError, JMESPathError, ValueError) as exc:
        message = " ".join(str(exc).split())
        raise SelectorSyntaxError(
            f"invalid {kind.upper()} selector {expression!r}: {message}") from exc
    return Query(kind, expression)


def page_selector(text: str, content_type: str, base_url: str) -> Selector:
    """A parsel selector of a stored page body: JSON, XML or HTML by its content type."""
    content_type = content_type.lower()
    if "json" in content_type:
        return Selector(text=text, type="json", base_url=base_url)
    kind = "xml" if "xml" in content_type and "html" not in content_type else "html"
    return Selector(text=text, type=kind, base_url=base_url)
