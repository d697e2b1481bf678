"""What a crawl reads from a page: selectors, fields and items, detail-page joins."""
