"""The one HTTP client of the tests: stdlib urllib, no proxies, an API key per call.

Every error answer must be problem+json; with the served OpenAPI document (`spec`) every answer
of a documented operation must be one the document describes, body schema included. Helpers for
`/v1` tasks and for `/api/v2` as a Web Data Source client drives it (repeat while 202).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jsonschema

from tests.support.wait import wait_until

TERMINAL = ("completed", "cancelled", "error")
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class _Default:
    """The client's own key (a sentinel: `key=None` means no key at all)."""


DEFAULT: Any = _Default()


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


class Client:
    """HTTP to `url`. `key` is the default API key: a name of `keys` (tenant name -> key) or a
    key itself; `spec` (the served /openapi.json) turns on the contract check."""

    def __init__(self, url: str, key: str | None = None, *, keys: dict[str, str] | None = None,
                 spec: dict[str, Any] | None = None, timeout: float = 60) -> None:
        self.url = url
        self.key = key
        self.keys = keys if keys is not None else {}
        self.spec = spec
        self.timeout = timeout
        self.calls = 0

    # -- one request ------------------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None,
             params: dict[str, str] | None = None, *, key: Any = DEFAULT,
             headers: dict[str, str] | None = None, data: bytes | None = None,
             check_spec: bool = True) -> Response:
        url = path if path.startswith("http") else self.url + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        sent = dict(headers or {})
        key = self.key if key is DEFAULT else key
        if key is not None:
            sent.setdefault("X-API-KEY", self.keys.get(key, key))
        if body is not None:
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        request = urllib.request.Request(url, data=data, method=method, headers=sent)
        self.calls += 1
        try:
            with _opener.open(request, timeout=self.timeout) as answer:
                response = Response(answer.status, _headers(answer.headers), answer.read())
        except urllib.error.HTTPError as error:
            response = Response(error.code, _headers(error.headers), error.read())
        if response.status >= 400:
            check_problem(response)
        if check_spec and self.spec is not None:
            check_against_spec(self.spec, method, url.split("?")[0].replace(self.url, ""),
                               response)
        return response

    def ok(self, method: str, path: str, body: Any = None, status: int = 200,
           **kwargs: Any) -> Any:
        """The JSON of an answer that must have `status` (None for an empty body)."""
        response = self.call(method, path, body, **kwargs)
        assert response.status == status, (response.status, response.body[:2000])
        return response.json if response.body else None

    # -- /v1 --------------------------------------------------------------------------------

    def create(self, scheme: dict[str, Any], key: Any = DEFAULT, **fields: Any) -> Any:
        return self.ok("POST", "/v1/tasks", {"scheme": scheme, **fields}, 201, key=key)

    def task(self, task_id: str, key: Any = DEFAULT) -> dict[str, Any]:
        task: dict[str, Any] = self.ok("GET", f"/v1/tasks/{task_id}", key=key)
        return task

    def wait(self, task_id: str, until: Callable[[dict[str, Any]], bool] | None = None,
             timeout: float = 60, key: Any = DEFAULT,
             detail: Callable[[], str] = lambda: "") -> dict[str, Any]:
        """Poll the task until `until(task)` (default: a terminal status); the task."""
        until = until or (lambda task: task["status"] in TERMINAL)
        seen: list[dict[str, Any]] = [{}]

        def there() -> dict[str, Any] | None:
            seen[0] = self.task(task_id, key=key)
            return seen[0] if until(seen[0]) else None

        return wait_until(there, timeout, 0.1,
                          lambda: f"task {task_id} to get there: {seen[0]}{detail()}")

    def wait_status(self, task_id: str, *statuses: str, timeout: float = 60,
                    key: Any = DEFAULT, detail: Callable[[], str] = lambda: ""
                    ) -> dict[str, Any]:
        return self.wait(task_id, lambda task: task["status"] in statuses, timeout, key, detail)

    def deliveries(self, task_id: str, key: Any = DEFAULT) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.ok("GET", f"/v1/tasks/{task_id}/deliveries",
                                             key=key)["data"]
        return rows

    def wait_deliveries(self, task_id: str, done: Callable[[list[dict[str, Any]]], Any],
                        timeout: float = 60, key: Any = DEFAULT) -> list[dict[str, Any]]:
        """Poll the task's delivery log until `done(rows)` holds; the rows."""
        seen: list[list[dict[str, Any]]] = [[]]

        def settled() -> list[dict[str, Any]] | None:
            seen[0] = self.deliveries(task_id, key=key)
            return seen[0] if done(seen[0]) else None

        return wait_until(settled, timeout, 0.1, lambda: f"the delivery log: {seen[0]}")

    # -- /api/v2 ----------------------------------------------------------------------------

    def ready(self, method: str, path: str, body: Any = None,
              params: dict[str, str] | None = None, timeout: float = 30.0,
              pause: float = 0.01) -> Response:
        """The first answer that is not 202 (the page is not there yet)."""
        answers: list[Response] = []

        def answered() -> Response | None:
            answers[:] = [self.call(method, path, body, params)]
            return answers[0] if answers[0].status != 202 else None

        return wait_until(answered, timeout, pause, f"{path} to answer other than 202")

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


def _headers(message: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in message.items()}


def check_problem(response: Response) -> None:
    """An error answer is problem+json with its status, a title, a detail and a type."""
    assert response.content_type == "application/problem+json", response
    problem = response.json
    assert problem["status"] == response.status
    assert problem["title"] and problem["detail"] and problem["type"]


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
