"""Moved to tests/support/server.py; kept so that older imports still work."""

from __future__ import annotations

from tests.support.server import LISTENING, read_line

__all__ = ["LISTENING", "read_line"]
