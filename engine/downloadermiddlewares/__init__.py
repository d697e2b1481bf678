"""The downloader middlewares of the Scrapy project (engine/settings.py orders them)."""
