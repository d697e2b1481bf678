"""The real server as a child process (`crawlplane serve`), keys made with the real CLI, and a
client that drives `/api/v2` as a Web Data Source client does: it repeats a call while the
answer is 202."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.serverproc import read_line

CRAWLPLANE = str(Path(sys.executable).with_name("crawlplane"))
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """HTTP with an API key; `ready()` repeats a call while it answers 202."""

    def __init__(self, url: str, key: str):
        self.url = url
        self.key = key
        self.calls = 0

    def call(self, method: str, path: str, body: Any = None,
             params: dict[str, str] | None = None) -> Answer:
        url = self.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method,
                                         headers={"X-API-KEY": self.key,
                                                  "Content-Type": "application/json"})
        self.calls += 1
        try:
            with _opener.open(request, timeout=30) as response:
                return Answer(response.status, {k.lower(): v for k, v in response.headers.items()},
                              response.read())
        except urllib.error.HTTPError as error:
            return Answer(error.code, {k.lower(): v for k, v in error.headers.items()},
                          error.read())

    def ready(self, method: str, path: str, body: Any = None,
              params: dict[str, str] | None = None, timeout: float = 30.0,
              pause: float = 0.01) -> Answer:
        deadline = time.monotonic() + timeout
        while True:
            answer = self.call(method, path, body, params)
            if answer.status != 202:
                return answer
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} still answers 202 after {timeout} s")
            time.sleep(pause)

    def start(self, job: str, config: dict[str, Any]) -> list[dict[str, str]]:
        answer = self.call("POST", f"/api/v2/jobs/{job}/start", config)
        assert answer.status == 200, answer.body
        tasks: list[dict[str, str]] = answer.json
        return tasks

    def crawl(self, task_id: str, selector: str, attribute: str | None = None
              ) -> list[dict[str, str]]:
        params = {"selector": selector, **({"attributeName": attribute} if attribute else {})}
        answer = self.ready("GET", f"/api/v2/tasks/{task_id}/crawl", params=params)
        assert answer.status == 200, answer.body
        tasks: list[dict[str, str]] = answer.json
        return tasks

    def scrape_multiple(self, task_id: str, params: list[dict[str, str]]
                        ) -> dict[str, list[str]]:
        query = {}
        for i, param in enumerate(params):
            for name, value in param.items():
                query[f"scrapeParams[{i}].{name}"] = value
        answer = self.ready("GET", f"/api/v2/tasks/{task_id}/scrape-multiple", params=query)
        assert answer.status == 200, answer.body
        return {entry["name"]: entry["values"] for entry in answer.json}

    def info(self, task_id: str) -> dict[str, Any]:
        answer = self.call("GET", f"/api/v2/tasks/{task_id}/info")
        assert answer.status == 200, answer.body
        info: dict[str, Any] = answer.json
        return info


@dataclass
class Server:
    url: str
    data_dir: Path
    env: dict[str, str]
    proc: subprocess.Popen[str]

    def key(self, name: str) -> str:
        out = subprocess.run([CRAWLPLANE, "keys", "create", name], env=self.env, check=True,
                             capture_output=True, text=True).stdout
        return out.strip().splitlines()[-1].strip()

    def client(self, name: str) -> Client:
        return Client(self.url, self.key(name))


def start_server(data_dir: Path, **env: str) -> Server:
    environment = {**os.environ, "CRAWLPLANE_DATA_DIR": str(data_dir),
                   "CRAWLPLANE_LISTEN": "127.0.0.1:0", "CRAWLPLANE_ALLOW_PRIVATE_TARGETS": "1",
                   "CRAWLPLANE_RATE_LIMIT": "0", "CRAWLPLANE_STORE_URL": "", **env}
    proc = subprocess.Popen([CRAWLPLANE, "serve"], env=environment, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    try:
        url = read_line(proc.stdout)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return Server(url, data_dir, environment, proc)


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("interactive"),
                           CRAWLPLANE_JOB_IDLE_TIMEOUT="2", CRAWLPLANE_MAX_PROCESSES="4")
    try:
        yield running
    finally:
        stop_server(running)
