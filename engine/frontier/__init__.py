"""The durable frontier of a stored run (DESIGN.md decision 7): every page is a store row
before it is downloaded, and the crawl takes its work from the store (scheduler.py)."""

from __future__ import annotations

import functools
import hashlib
import os
import socket

from scrapy import Request
from scrapy.settings import BaseSettings
from w3lib.url import canonicalize_url

from engine.downloadermiddlewares.pages import DEPTH, PAGE_ID, PARENT_ID

KEY = "cp_key"  # the page's key in the run: set on a request the spider makes
CLAIMED = "cp_claimed"  # set on a request rebuilt from a claimed page row (and its retries)
FOLLOW_DEPTH = "cp_follow_depth"
PAGE_NO = "cp_page_no"
DETAIL = "cp_detail"  # the field a detail page is fetched for


def page_identity(url: str, detail: str | None = None) -> str:
    """A page's identity in its run: its canonical URL (a detail page's, per field)."""
    return (f"detail {detail} " if detail else "") + _canonical(url)


@functools.lru_cache(maxsize=16_384)
def _canonical(url: str) -> str:
    """`canonicalize_url`, remembered: most links of a page were on the pages before it (9 of
    10 on the test site's), and each costs about 6 µs (600 links in a 60-page crawl)."""
    return canonicalize_url(url)


def page_key(identity: str) -> str:
    """The store's key for a page identity (of fixed length)."""
    return hashlib.sha1(identity.encode("utf-8")).hexdigest()


class RecentlySent:
    """The page identities a crawl process sent the store last (at most `size`): the store
    dedups a run's pages, but most links of a page were on the page before, and a link sent
    again costs a request built, scheduled and refused by the store (9 of 10 links of the test
    site's generated pages: a sixth of a 60-page crawl's time). Bounded: the store is the one
    that knows."""

    def __init__(self, size: int = 50_000):
        self.size = size
        self.sent: dict[str, None] = {}

    def add(self, identity: str) -> bool:
        """Whether `identity` is new here (it is remembered from now on)."""
        if identity in self.sent:
            return False
        if len(self.sent) >= self.size:  # the oldest out (dicts keep insertion order)
            del self.sent[next(iter(self.sent))]
        self.sent[identity] = None
        return True


def worker_name(settings: BaseSettings | None = None) -> str:
    """This crawl process, as the pages it claims name it, so that its launcher can give them
    back if it dies: the name the launcher gave it (`CRAWLPLANE_WORKER`, a Scrapyd job's: the
    launcher does not know that process's host and pid), else "host:pid"."""
    given = settings.get("CRAWLPLANE_WORKER") if settings is not None else None
    return str(given) if given else worker_for(socket.gethostname(), os.getpid())


def worker_for(host: str, pid: int | str) -> str:
    return f"{host}:{pid}"


def page_row(request: Request) -> dict[str, object]:
    """What the store keeps of a request the spider made, to rebuild it later."""
    meta = request.meta
    return {"id": meta[PAGE_ID], "key": meta[KEY], "url": request.url,
            "depth": meta.get(DEPTH, 0), "parent_id": meta.get(PARENT_ID),
            "page_no": meta.get(PAGE_NO, 1), "follow_depth": meta.get(FOLLOW_DEPTH, 0),
            "detail": meta.get(DETAIL), "created_at": meta.get("cp_created_at")}
