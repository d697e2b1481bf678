"""The durable frontier of a stored run (DESIGN.md decision 7): every page is a store row
before it is downloaded, and the crawl takes its work from the store (scheduler.py)."""

from __future__ import annotations

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


def page_key(url: str, detail: str | None = None) -> str:
    """A page's identity in its run: its canonical URL (a detail page's, per field)."""
    text = (f"detail {detail} " if detail else "") + canonicalize_url(url)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


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
