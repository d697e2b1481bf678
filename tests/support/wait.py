"""The one polling loop of the tests: ask until the answer is truthy, or fail saying what."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.1,
               message: str | Callable[[], str] = "the condition") -> T:
    """Call `predicate` every `interval` seconds until it returns something truthy, and return
    that; after `timeout` seconds raise AssertionError with `message` (a callable is called
    then, so it can show the last state seen). The predicate runs at least once."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout} s waiting for {text}")
        time.sleep(interval)
