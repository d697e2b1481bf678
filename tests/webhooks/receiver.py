"""A webhook receiver on loopback (a stdlib HTTP server in a thread) that records every request
and answers as planned: a status code, or "hang" (no answer until the test ends)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass
class Received:
    method: str
    path: str  # with the query string
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.plans: dict[str, list[int | str]] = {}
        self.lock = threading.Condition()
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                route = self.path.split("?", 1)[0]
                with receiver.lock:
                    receiver.requests.append(Received(
                        self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                        body, time.time()))
                    plan = receiver.plans.get(route, [])
                    action = plan.pop(0) if plan else 200
                    receiver.lock.notify_all()
                if action == "hang":
                    receiver.released.wait(60)
                    return
                self.send_response(int(action))
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_GET = do_POST = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def plan(self, route: str, *actions: int | str) -> None:
        """Answers for the next requests to `route` (a path without query); then 200."""
        with self.lock:
            self.plans[route] = list(actions)

    def received(self, prefix: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    def wait(self, prefix: str, count: int = 1, timeout: float = 60) -> list[Received]:
        """Wait until `count` requests whose path starts with `prefix` have arrived."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                found = [r for r in self.requests if r.path.startswith(prefix)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(found)} of {count} requests to {prefix} "
                                         f"arrived within {timeout} s")
                self.lock.wait(left)
