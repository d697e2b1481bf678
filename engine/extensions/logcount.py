"""Scrapy's log counts (`log_count/LEVEL` stats) of one crawler's records only.

Scrapy's LogCount puts a handler on the root logger that counts every record; with several
crawlers in one process (engine/shared.py) each would count the others' lines too."""

from __future__ import annotations

import logging

from scrapy import Spider
from scrapy.extensions.logcount import LogCount

from engine.runlog import crawler_of


class CrawlerLogCount(LogCount):
    def spider_opened(self, spider: Spider) -> None:
        super().spider_opened(spider)
        if self.handler is not None:
            self.handler.addFilter(self._own)

    def _own(self, record: logging.LogRecord) -> bool:
        return crawler_of(record) is self.crawler
