"""The webhook tests' server settings: fast retries, two crawl processes. The server itself is
tests/support/server.py's `Server`."""

from __future__ import annotations

from tests.support.client import TERMINAL
from tests.support.server import Server

__all__ = ["FAST_WEBHOOKS", "TERMINAL", "Server", "webhook_env"]

# Fast retries for tests: first retry after 0.25-0.5 s, an answer within 2 s or a retry.
FAST_WEBHOOKS = {
    "CRAWLPLANE_WEBHOOK_BACKOFF": "0.5",
    "CRAWLPLANE_WEBHOOK_TIMEOUT": "2",
    "CRAWLPLANE_WEBHOOK_POLL": "0.1",
    "CRAWLPLANE_WEBHOOK_MAX_ATTEMPTS": "4",
}


def webhook_env(**env: str) -> dict[str, str]:
    """The server environment of the webhook tests, with `env` on top."""
    return {"CRAWLPLANE_MAX_PROCESSES": "2", **FAST_WEBHOOKS, **env}
