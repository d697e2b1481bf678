"""Blocking work off the reactor: the store and DNS are reached from the thread pool."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import threads


def in_thread(f: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run blocking store work in the reactor's thread pool (the reactor never waits on I/O)."""
    return threads.deferToThread(f, *args, **kwargs)
