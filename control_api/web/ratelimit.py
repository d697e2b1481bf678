"""Per-key request rate limits: a sliding one-minute window per (key, bucket)."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from control_api.web.errors import RateLimited


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic, window: float = 60.0):
        self.clock = clock
        self.window = window
        self._hits: dict[tuple[str, str], deque[float]] = {}

    def check(self, key: str, bucket: str, per_window: int) -> None:
        """Count one call; raise RateLimited (with seconds to wait) when over the limit."""
        if per_window <= 0:
            return
        now = self.clock()
        hits = self._hits.setdefault((key, bucket), deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= per_window:
            raise RateLimited(max(1, math.ceil(hits[0] + self.window - now)))
        hits.append(now)
