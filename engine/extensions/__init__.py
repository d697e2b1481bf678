"""The Scrapy extensions of the project: the store recorder."""
