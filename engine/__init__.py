"""Crawlplane's crawl engine: the Scrapy project that runs inside every crawl process."""
