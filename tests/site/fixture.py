"""Start/stop the test site from tests (stdlib only).

with TestSite.start() as site:
    urllib.request.urlopen(site.url + "/quotes/")
    site.log(path_prefix="/quotes")
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Any

SERVER = Path(__file__).resolve().parent / "server.py"
START_TIMEOUT = 30.0

# direct connections only: ignore any http_proxy set in the environment
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _read_lines(stream: IO[str], n: int, timeout: float) -> list[str]:
    q: queue.Queue[str] = queue.Queue()

    def reader() -> None:
        for _ in range(n):
            q.put(stream.readline())

    threading.Thread(target=reader, daemon=True).start()
    return [q.get(timeout=timeout) for _ in range(n)]


class TestSite:
    """A running test site (a child process). Use :meth:`start`."""

    __test__ = False  # not a pytest test class

    def __init__(self, proc: subprocess.Popen[str], url: str, proxies: dict[str, str]) -> None:
        self.proc = proc
        self.url = url  # "http://127.0.0.1:PORT", no trailing slash
        # the same site over TLS, self-signed (tests/site/tls.py): "https://127.0.0.1:PORT"
        self.tls_url = proxies.pop("site_tls")
        self.proxies = proxies  # proxy_ok, proxy_403, proxy_refused, proxy_auth

    @classmethod
    def start(cls, gen_pages: int = 5000, port: int = 0) -> TestSite:
        proc = subprocess.Popen(
            [sys.executable, str(SERVER), "--port", str(port), "--gen-pages", str(gen_pages)],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout is not None
        try:
            url_line, proxies_line = _read_lines(proc.stdout, 2, START_TIMEOUT)
            url = url_line.strip()
            if not url.startswith("http://"):
                raise RuntimeError(f"test site did not start (got {url_line!r})")
            proxies: dict[str, str] = json.loads(proxies_line)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        return cls(proc, url, proxies)

    def abs(self, path: str) -> str:
        """Absolute URL of a site path."""
        return self.url + path

    def _get_json(self, path: str) -> Any:
        with _opener.open(self.url + path, timeout=30) as resp:
            return json.loads(resp.read())

    def log(self, path_prefix: str | None = None) -> list[dict[str, Any]]:
        """Recorded requests: {method, path, headers: {name: [values]}, time, via_proxy}.

        Header names are lowercase; ``path`` includes the query string.
        """
        q = "?" + urllib.parse.urlencode({"path_prefix": path_prefix}) if path_prefix else ""
        entries: list[dict[str, Any]] = self._get_json("/__log__" + q)
        return entries

    def clear_log(self) -> None:
        req = urllib.request.Request(self.url + "/__log__/clear", data=b"", method="POST")
        with _opener.open(req, timeout=30) as resp:
            resp.read()

    def truth(self, name: str) -> Any:
        """Ground truth: "quotes", "authors", "catalog" or "gen"."""
        return self._get_json(f"/__truth__/{name}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> TestSite:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
