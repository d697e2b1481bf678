"""Per-run log files for crawls sharing one process (engine/shared.py).

Every crawler of the process logs to the root logger; this handler writes each record into the
log file of the run whose crawler it names: Scrapy passes `spider` (or `crawler`) in the
`extra` of most of its records, and so does the spider's own `logger`. Records that name no
crawler (Scrapy's start-up lines, Twisted's and third-party libraries' messages, ours from
module loggers without `extra`) cannot be told apart: they go to the process's own log,
except while a crawler is being started (`starting`: Scrapy's start-up lines about its
settings and components name none), when they are that crawler's, and while a run has the
process to itself (`alone`: it took an idle process, or is the last of one draining), its.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scrapy.settings import BaseSettings


def crawler_of(record: logging.LogRecord) -> Any:
    """The crawler a log record names, if any."""
    crawler = getattr(record, "crawler", None)
    if crawler is None:
        crawler = getattr(getattr(record, "spider", None), "crawler", None)
    return crawler


class RunLogRouter(logging.Handler):
    def __init__(self, settings: BaseSettings, fallback: logging.Handler):
        super().__init__()
        self.settings = settings
        self.fallback = fallback
        self.files: dict[int, logging.Handler] = {}  # id(crawler) -> its run's log file
        self.current: Any = None  # the crawler being started
        self.alone: Any = None  # the crawler that has the process to itself, if any

    def add(self, crawler: Any, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, mode="a", encoding=self.settings.get("LOG_ENCODING"))
        handler.setFormatter(logging.Formatter(self.settings.get("LOG_FORMAT"),
                                               self.settings.get("LOG_DATEFORMAT")))
        handler.setLevel(self.settings.get("LOG_LEVEL"))
        self.files[id(crawler)] = handler

    @contextmanager
    def starting(self, crawler: Any) -> Iterator[None]:
        self.current = crawler
        try:
            yield
        finally:
            self.current = None

    def remove(self, crawler: Any) -> None:
        handler = self.files.pop(id(crawler), None)
        if handler is not None:
            handler.close()

    def handle(self, record: logging.LogRecord) -> bool:
        # The root logger passes every record (Scrapy sets it to NOTSET and filters in its
        # handler): below the target's level, a record is not written (`Handler.handle` does
        # not look at levels; `Logger.callHandlers` does, for the handlers it calls itself).
        crawler = crawler_of(record) or self.current or self.alone
        target = self.files.get(id(crawler)) if crawler is not None else None
        target = target or self.fallback
        if record.levelno >= target.level:
            target.handle(record)  # (it takes its own lock)
        return True

    def emit(self, record: logging.LogRecord) -> None:  # (handle does the work)
        self.handle(record)
