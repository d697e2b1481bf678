"""How runs get a crawl process: local processes or Scrapyd nodes."""
