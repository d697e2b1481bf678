"""The real server as a child process (`crawlplane serve`), keys made with the real CLI, and a
stdlib HTTP client that checks every answer against the served OpenAPI spec."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.serverproc import read_line
from tests.site.fixture import TestSite

CRAWLPLANE = str(Path(sys.executable).with_name("crawlplane"))
START_TIMEOUT = 30.0
TERMINAL = ("completed", "cancelled", "error")
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


@dataclass
class ApiServer:
    """A running `crawlplane serve`; `keys` maps tenant names to their API keys."""

    data_dir: Path
    env: dict[str, str]
    proc: subprocess.Popen[str] | None = None
    url: str = ""
    keys: dict[str, str] = field(default_factory=dict)
    spec: dict[str, Any] | None = None

    def start(self) -> ApiServer:
        self.proc = subprocess.Popen(
            [CRAWLPLANE, "serve"], env=self.env, stdout=subprocess.PIPE,
            stderr=open(self.data_dir / "server.err", "a"), stdin=subprocess.DEVNULL,
            text=True, start_new_session=True)
        assert self.proc.stdout is not None
        try:
            self.url = read_line(self.proc.stdout, timeout=START_TIMEOUT)
        except BaseException:
            self.kill()
            raise
        self.spec = self.call("GET", "/openapi.json", key=None).json
        return self

    def create_key(self, name: str, tenant: str | None = None) -> str:
        args = [CRAWLPLANE, "keys", "create", name] + (["--tenant", tenant] if tenant else [])
        out = subprocess.run(args, env=self.env, capture_output=True, text=True, check=True)
        key = out.stdout.strip().splitlines()[-1]
        self.keys[tenant or name] = key
        return key

    def cli(self, *args: str, check: bool = True,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([CRAWLPLANE, *args], env=env or self.env, capture_output=True,
                              text=True, check=check, timeout=120)

    def kill(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server process only (crawl processes it started are left alone)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    # -- HTTP ----------------------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None, *, key: str | None = "alice",
             headers: dict[str, str] | None = None, data: bytes | None = None,
             check_spec: bool = True) -> Response:
        """One request; `key` is a tenant name of `keys` (None: no key)."""
        url = path if path.startswith("http") else self.url + path
        sent = dict(headers or {})
        if key is not None:
            sent.setdefault("X-API-KEY", self.keys.get(key, key))
        if body is not None:
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        request = urllib.request.Request(url, data=data, method=method, headers=sent)
        try:
            with _opener.open(request, timeout=60) as answer:
                response = Response(answer.status, _headers(answer.headers), answer.read())
        except urllib.error.HTTPError as error:
            response = Response(error.code, _headers(error.headers), error.read())
        if response.status >= 400:
            assert response.content_type == "application/problem+json", response
            problem = response.json
            assert problem["status"] == response.status
            assert problem["title"] and problem["detail"] and problem["type"]
        if check_spec and self.spec is not None:
            check_against_spec(self.spec, method, url.split("?")[0].replace(self.url, ""),
                               response)
        return response

    def ok(self, method: str, path: str, body: Any = None, status: int = 200,
           **kwargs: Any) -> Any:
        response = self.call(method, path, body, **kwargs)
        assert response.status == status, (response.status, response.body[:500])
        return response.json if response.body else None

    def create(self, scheme: dict[str, Any], key: str = "alice", **fields: Any) -> Any:
        return self.ok("POST", "/v1/tasks", {"scheme": scheme, **fields}, 201, key=key)

    def wait(self, task_id: str, until: Callable[[dict[str, Any]], bool] | None = None,
             timeout: float = 60, key: str = "alice") -> dict[str, Any]:
        """Poll the task until `until(task)` (default: a terminal status)."""
        until = until or (lambda task: task["status"] in TERMINAL)
        deadline = time.monotonic() + timeout
        while True:
            task: dict[str, Any] = self.ok("GET", f"/v1/tasks/{task_id}", key=key)
            if until(task):
                return task
            if time.monotonic() > deadline:
                raise AssertionError(f"task did not get there in {timeout} s: {task}")
            time.sleep(0.1)


def _headers(message: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in message.items()}


def check_against_spec(spec: dict[str, Any], method: str, path: str, response: Response) -> None:
    """The answer must be one the served OpenAPI document describes, body schema included."""
    operation = find_operation(spec, method, path)
    if operation is None:
        return  # not an API route (404 and 405 of unknown paths)
    documented = operation["responses"].get(str(response.status))
    assert documented is not None, f"{method} {path} answered {response.status}, not in the spec"
    content = documented.get("content")
    if not content or response.status == 204:
        return
    media = response.content_type.split(";")[0].strip()
    assert media in content, f"{method} {path}: {media} not documented ({list(content)})"
    schema = content[media].get("schema")
    if schema and media.endswith("json"):
        validate_schema(spec, schema, response.json)


def find_operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    candidates = sorted(spec["paths"], key=lambda p: p.count("{"))  # literal paths first
    for template in candidates:
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            operation: dict[str, Any] | None = spec["paths"][template].get(method.lower())
            return operation
    return None


def validate_schema(spec: dict[str, Any], schema: dict[str, Any], instance: Any) -> None:
    """Validate with `#/components/...` refs resolved against the spec itself."""
    root = {**schema, "components": spec["components"]}
    jsonschema.Draft202012Validator(
        root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER).validate(instance)


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRAWLPLANE_")}
    env.update(CRAWLPLANE_DATA_DIR=str(data_dir), CRAWLPLANE_LISTEN="127.0.0.1:0",
               CRAWLPLANE_ALLOW_PRIVATE_TARGETS="1", **extra)
    return env


def start_server(data_dir: Path, **extra: str) -> ApiServer:
    data_dir.mkdir(parents=True, exist_ok=True)
    server = ApiServer(data_dir, server_env(data_dir, **extra))
    server.create_key("alice")
    server.create_key("bob")
    return server.start()


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    server = start_server(tmp_path_factory.mktemp("api"))
    yield server
    server.kill()


@pytest.fixture(scope="session")
def quotes_scheme(site: TestSite) -> dict[str, Any]:
    """The quotes pages (5, paginated) with each quote's author page followed."""
    return {
        "start_urls": [site.abs("/quotes/page/1/")],
        "item": {"selector": "CSS: div.quote", "fields": [
            {"name": "text", "selector": "CSS: span.text"},
            {"name": "author", "selector": "CSS: small.author"},
            {"name": "tags", "selector": "CSS: a.tag", "many": True},
            {"name": "about", "selector": "CSS: small.author + a", "attr": "href",
             "follow": {"fields": [{"name": "born", "selector": "CSS: .author-born-date"}]}},
        ]},
        "paginate": {"selector": "CSS: li.next a"},
        "formats": ["jsonl", "csv"],
        "politeness": {"obey_robots": False, "concurrency": 8},
    }


def gen_scheme(site: TestSite, *, delay: float = 0, concurrency: int = 8,
               max_pages: int = 10_000, depth: int = 100) -> dict[str, Any]:
    """The generated pages from /gen/0.html, following their links."""
    return {
        "start_urls": [site.abs("/gen/0.html")],
        "item": {"selector": "CSS: div.item", "fields": [
            {"name": "title", "selector": "CSS: h2"},
            {"name": "price", "selector": "CSS: span.price"},
        ]},
        "follow": [{"selector": "CSS: li a", "max_depth": depth}],
        "limits": {"max_pages": max_pages},
        "politeness": {"obey_robots": False, "concurrency": concurrency, "crawl_delay": delay},
    }
