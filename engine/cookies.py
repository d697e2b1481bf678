"""Cookie-domain checks without network access.

Scrapy's CookiesMiddleware checks each cookie's domain against the Public Suffix List with a
module-level `TLDExtract`, which downloads the list at the first cookie, synchronously in the
reactor thread: offline or behind a firewall, every crawl process logged tracebacks or stalled
there. The snapshot bundled with tldextract is good enough for that check.
"""

from __future__ import annotations

import scrapy.downloadermiddlewares.cookies as scrapy_cookies
from tldextract import TLDExtract


def use_bundled_suffix_list() -> None:
    scrapy_cookies._split_domain = TLDExtract(
        suffix_list_urls=(), include_psl_private_domains=True
    )
