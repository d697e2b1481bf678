"""Crawlplane's control API: the Klein app, launchers, webhooks and CLI (the server process)."""
