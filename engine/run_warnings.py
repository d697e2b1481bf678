"""A run's warnings (API.md section 2): things that did not fail but that a person should know.

`ExtractionWatch` counts, as the spider parses listing pages, how many items the item selector
matched and which fields ever had a value; `run_warnings` turns that and how the crawl ended
(a limit reached, detail pages still pending) into sentences.
"""

from __future__ import annotations

from typing import Any

from engine.scheme import Scheme

LIMIT_REASONS = {"closespider_itemcount": "max_items", "closespider_timeout": "timeout_s"}


def _empty(value: Any) -> bool:
    return value is None or value == [] or value == ""


class ExtractionWatch:
    def __init__(self) -> None:
        self.pages = 0  # listing pages parsed (HTML or XML)
        self.items = 0
        self.fields_seen: set[str] = set()  # fields that had a value in some item

    def page(self) -> None:
        self.pages += 1

    def item(self, item: dict[str, Any]) -> None:
        self.items += 1
        self.fields_seen.update(name for name, value in item.items() if not _empty(value))


def _pages(n: int) -> str:
    return f"{n} page" + ("" if n == 1 else "s")


def max_pages_warning(scheme: Scheme) -> str:
    return (f"limits.max_pages ({scheme.limits.max_pages}) reached: further pages were not "
            "crawled")


def limit_warning(scheme: Scheme, limit: str) -> str:
    return (f"limits.{limit} ({getattr(scheme.limits, limit)}) reached: the crawl was "
            "stopped")


def run_warnings(scheme: Scheme, watch: ExtractionWatch, *, max_pages_reached: bool,
                 close_reason: str | None = None, pending_details: int = 0) -> list[str]:
    warnings = []
    rule = scheme.item
    if rule is not None and watch.pages:
        if rule.selector is not None and watch.items == 0:
            warnings.append(f"item selector {rule.selector} matched nothing on "
                            f"{_pages(watch.pages)}")
        elif watch.items:
            warnings.extend(f"field {field.name} ({field.selector}) matched nothing on "
                            f"{_pages(watch.pages)}"
                            for field in rule.fields if field.name not in watch.fields_seen)
    if max_pages_reached:
        warnings.append(max_pages_warning(scheme))
    limit = LIMIT_REASONS.get(close_reason or "")
    if limit is not None:
        warnings.append(limit_warning(scheme, limit))
    if pending_details:
        warnings.append(f"{pending_details} detail pages were still pending when the crawl "
                        "closed: their fields are empty")
    return warnings
