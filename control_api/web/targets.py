"""Outbound safety at the API: a task's start URLs, proxy gates and webhook URLs are checked
with the rules of `engine/outbound.py` (http or https with a host, at an allowed address) when
it is created, and refusals answer 422 with each URL's path. Checks block on DNS: run them in
a thread."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from pydantic import BaseModel

from control_api.web.errors import Unprocessable
from engine.outbound import host_problem, scheme_problem

RESOLVE_WORKERS = 16


def check_urls(urls: Iterable[tuple[str, str]], allow_private: bool) -> dict[str, list[str]]:
    """Check (path, url) pairs; returns `{path: [message]}` for every refused one. Each host
    is resolved once, several at a time (a scheme may list thousands of start URLs)."""
    pairs = list(urls)
    hosts: dict[tuple[str, int | None], str | None] = {}
    for _, url in pairs:
        parts = urlsplit(url)
        try:
            hosts[(parts.hostname or "", parts.port)] = None
        except ValueError:
            continue
    with ThreadPoolExecutor(max_workers=min(RESOLVE_WORKERS, max(1, len(hosts)))) as pool:
        problems = dict(zip(hosts, pool.map(
            lambda key: host_problem(key[0], key[1], allow_private), hosts), strict=True))
    errors: dict[str, list[str]] = {}
    for path, url in pairs:
        parts = urlsplit(url)
        try:
            problem = scheme_problem(url) or problems.get((parts.hostname or "", parts.port))
        except ValueError:
            problem = f"{url!r} has an invalid port"
        if problem is not None:
            errors.setdefault(path, []).append(f"refused: {problem}")
    return errors


def task_urls(body: BaseModel) -> list[tuple[str, str]]:
    """Every outbound URL of a task creation body, with its JSON path: start URLs, proxy
    gates and webhook URLs."""
    urls: list[tuple[str, str]] = []
    scheme = getattr(body, "scheme", None)
    if scheme is not None:
        urls += [(f"scheme.start_urls[{i}]", u) for i, u in enumerate(scheme.start_urls)]
        urls += [(f"scheme.proxy.gates[{i}].url", g.url)
                 for i, g in enumerate(scheme.proxy.gates)]
    for name in ("callback_url", "pingback_url", "postback_url"):
        value = getattr(body, name, None)
        if value:
            urls.append((name, value))
    return urls


def target_check(allow_private: bool) -> Callable[[BaseModel], None]:
    """The API's `target_check` hook: 422 with the path of each refused URL."""

    def check(body: BaseModel) -> None:
        errors = check_urls(task_urls(body), allow_private)
        if errors:
            raise Unprocessable(errors, "an outbound URL points where requests are not allowed")

    return check
