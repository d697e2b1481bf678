"""The real server as a child process (`crawlplane serve`), and a small stdlib client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.serverproc import read_line

CRAWLPLANE = str(Path(sys.executable).with_name("crawlplane"))
TERMINAL = ("completed", "cancelled", "error")
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# Fast retries for tests: first retry after 0.25-0.5 s, an answer within 2 s or a retry.
FAST_WEBHOOKS = {
    "CRAWLPLANE_WEBHOOK_BACKOFF": "0.5",
    "CRAWLPLANE_WEBHOOK_TIMEOUT": "2",
    "CRAWLPLANE_WEBHOOK_POLL": "0.1",
    "CRAWLPLANE_WEBHOOK_MAX_ATTEMPTS": "4",
}


class Server:
    """`crawlplane serve` on 127.0.0.1:0 over `data_dir`; restartable on the same store."""

    def __init__(self, data_dir: Path, allow_private: bool = True, **env: str):
        self.data_dir = data_dir
        self.env = {**os.environ, "CRAWLPLANE_DATA_DIR": str(data_dir),
                    "CRAWLPLANE_LISTEN": "127.0.0.1:0", "CRAWLPLANE_MAX_PROCESSES": "2",
                    **FAST_WEBHOOKS, **env}
        self.env.pop("CRAWLPLANE_STORE_URL", None)
        if allow_private:
            self.env["CRAWLPLANE_ALLOW_PRIVATE_TARGETS"] = "1"
        else:
            self.env.pop("CRAWLPLANE_ALLOW_PRIVATE_TARGETS", None)
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> Server:
        log = open(self.data_dir / "server.log", "a")  # the child keeps it open
        self.proc = subprocess.Popen([CRAWLPLANE, "serve"], env=self.env, text=True,
                                     stdout=subprocess.PIPE, stderr=log,
                                     stdin=subprocess.DEVNULL)
        log.close()
        assert self.proc.stdout is not None
        self.url = read_line(self.proc.stdout)
        return self

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to tidy up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def create_key(self, name: str) -> str:
        out = subprocess.run([CRAWLPLANE, "keys", "create", name], env=self.env, check=True,
                             capture_output=True, text=True, timeout=60).stdout
        return out.strip().splitlines()[-1].strip()

    def call(self, key: str, method: str, path: str, body: Any = None
             ) -> tuple[int, dict[str, str], bytes]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"X-API-KEY": key,
                                                  "Content-Type": "application/json"})
        try:
            with _opener.open(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def json(self, key: str, method: str, path: str, body: Any = None,
             expect: int = 200) -> Any:
        status, _, raw = self.call(key, method, path, body)
        assert status == expect, (status, raw[:2000])
        return json.loads(raw) if raw else None

    def wait_task(self, key: str, task_id: str, statuses: tuple[str, ...] = TERMINAL,
                  timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            task: dict[str, Any] = self.json(key, "GET", f"/v1/tasks/{task_id}")
            if task["status"] in statuses:
                return task
            assert time.monotonic() < deadline, f"task still {task['status']}"
            time.sleep(0.1)

    def wait_log(self, key: str, task_id: str, done: Any, timeout: float = 60) -> list[Any]:
        """Poll the delivery log until `done(rows)` holds."""
        deadline = time.monotonic() + timeout
        while True:
            rows: list[Any] = self.json(key, "GET", f"/v1/tasks/{task_id}/deliveries")["data"]
            if done(rows):
                return rows
            assert time.monotonic() < deadline, f"delivery log never settled: {rows}"
            time.sleep(0.1)
