"""Crawlplane's own Scrapy signals."""

# A download task finished, in any state. Arguments: page (the pages-table row),
# attempts (its DownloadInfo records, oldest first), response (the final Response, or None).
page_finished = object()
