"""Crawlplane's own Scrapy signals."""

# A download task finished, in any state. Arguments: page (the pages-table row),
# attempts (its DownloadInfo records, oldest first), response (the final Response, or None).
page_finished = object()

# A stored run's page callback is done (engine/spiders/task.py). Arguments: page_id (None for
# items made without a page), items (how many it yielded), pending (items now waiting for
# detail pages, as rows), resolved (ids of waiting items it completed), detail_value (a detail
# page's fields per field name). The recorder commits the page with its items when all came.
page_parsed = object()
