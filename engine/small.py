"""Which runs are small enough to share a crawl process (engine/shared.py).

Decided from the stored scheme when the launcher claims the run, conservatively: a run that
fetches only its few start URLs, in one process, with nothing that makes more pages or holds
the reactor (no pagination, link following, detail pages, sitemaps, login, rendering, proxy
gates). Everything else has a crawl process to itself: forked for it, or an idle shared one
that takes it as its only run (`alone_in_shared`).
"""

from __future__ import annotations

from typing import Any

SMALL_START_URLS = 10  # start URLs a shared run may have at most


def is_small(scheme: dict[str, Any], kind: str = "crawl") -> bool:
    if kind != "crawl":  # interactive jobs are fed through the store and signalled (NUDGE)
        return False
    urls = scheme.get("start_urls") or []
    if not urls or len(urls) > SMALL_START_URLS:
        return False
    if any(scheme.get(key) for key in ("paginate", "follow", "sitemap_urls", "login",
                                       "render")):
        return False
    if int(scheme.get("processes") or 1) != 1:
        return False
    if (scheme.get("proxy") or {}).get("use"):
        return False
    fields = (scheme.get("item") or {}).get("fields") or []
    return not any(field.get("follow") for field in fields)


def alone_in_shared(scheme: dict[str, Any], kind: str = "crawl") -> bool:
    """Whether a run that is not small may take an idle shared process as its only run (a
    process to itself, without the fork, the reactor and Scrapy's process set-up, with the
    store's statements compiled by earlier runs): a crawl in one process that does not render
    (a browser is best ended with the process that started it)."""
    return (kind == "crawl" and int(scheme.get("processes") or 1) == 1
            and not scheme.get("render"))
