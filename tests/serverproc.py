"""Reading a child server's announcement line, shared by the tests that start `crawlplane serve`."""

from __future__ import annotations

import queue
import threading
import time
from typing import IO

LISTENING = "Crawlplane listening on "


def read_line(stream: IO[str], prefix: str = LISTENING, timeout: float = 30.0) -> str:
    """The rest of the first line of `stream` that starts with `prefix` (e.g. the server's URL).

    A thread keeps draining the stream afterwards, so the child never blocks on a full pipe.
    """
    lines: queue.Queue[str] = queue.Queue()

    def reader() -> None:
        for line in stream:
            lines.put(line)
        lines.put("")

    threading.Thread(target=reader, daemon=True).start()
    deadline = time.monotonic() + timeout
    while True:
        line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        if not line:
            raise RuntimeError("the server exited before it listened")
        if line.startswith(prefix):
            return line[len(prefix):].strip().rstrip("/")
