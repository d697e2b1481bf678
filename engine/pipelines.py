"""Item pipelines."""

from __future__ import annotations

from typing import Any

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem


class ItemLimitPipeline:
    """Drop items past `limits.max_items`: CLOSESPIDER_ITEMCOUNT stops the crawl, but items
    already in flight would otherwise overshoot the limit."""

    def __init__(self, limit: int):
        self.limit = limit
        self.count = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ItemLimitPipeline:
        return cls(crawler.settings.getint("CLOSESPIDER_ITEMCOUNT"))

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        if self.limit and self.count >= self.limit:
            raise DropItem(f"limits.max_items ({self.limit}) reached")
        self.count += 1
        return item
