"""Outbound safety at the API: a task's start URLs, proxy gates and webhook URLs are checked
with the rules of `engine/outbound.py` (http or https with a host, at an allowed address) when
it is created, and refusals answer 422 with each URL's path.

Checks resolve host names, which can hang for a resolver's whole timeout. So they never run in
the reactor's shared thread pool (a stalled resolver would delay every request waiting on the
store) but in a small pool of their own, each host at most `timeout` seconds, and what a host
resolved to is kept `ttl` seconds. A host that does not resolve in time is treated like one that
does not resolve at all (as before): the task is created, and its crawl checks every request
again with its own resolver before it connects (engine/downloadermiddlewares/guard.py), so the
early refusal here is a convenience that a slow resolver may skip, never the only guard."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel
from twisted.internet import defer, threads
from twisted.python.threadpool import ThreadPool

from control_api.web.errors import Unprocessable
from engine.outbound import Resolve, host_problem, resolve, scheme_problem

RESOLVE_WORKERS = 4  # threads of the checks' own pool
RESOLVE_TIMEOUT = 3.0  # seconds one host may take to resolve
RESOLVE_TTL = 30.0  # seconds a host's answer is kept
CACHE_LIMIT = 10_000  # hosts kept at most (the oldest answers go first)

Host = tuple[str, int | None]


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


def _daemon_thread(**kwargs: Any) -> threading.Thread:
    return threading.Thread(daemon=True, **kwargs)


def _host(url: str) -> Host | None:
    parts = urlsplit(url)
    try:
        return (parts.hostname or "", parts.port)
    except ValueError:
        return None


class TargetCheck:
    """The API's `target_check` hook (web/context.py): `await check(body)` raises 422 with the
    path of each refused URL. Resolution runs in this check's own thread pool."""

    def __init__(self, allow_private: bool, reactor: Any, resolver: Resolve = resolve,
                 workers: int = RESOLVE_WORKERS, timeout: float = RESOLVE_TIMEOUT,
                 ttl: float = RESOLVE_TTL):
        self.allow_private = allow_private
        self.reactor = reactor
        self.resolver = resolver
        self.timeout = timeout
        self.ttl = ttl
        self._cache: dict[Host, tuple[float, str | None]] = {}
        self.pool = ThreadPool(minthreads=0, maxthreads=workers, name="target-check")
        # Daemon threads, never joined: a hung resolver must not hold up the server's exit.
        self.pool.threadFactory = _daemon_thread  # type: ignore[assignment]
        self._started = False

    async def __call__(self, body: BaseModel) -> None:
        errors = await self.check_urls(task_urls(body))
        if errors:
            raise Unprocessable(errors, "an outbound URL points where requests are not allowed")

    async def check_urls(self, urls: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
        """Check (path, url) pairs; returns `{path: [message]}` for every refused one. Each
        host is resolved once, several at a time (a scheme may list thousands of start URLs)."""
        pairs = list(urls)
        hosts = {host for _, url in pairs if (host := _host(url)) is not None}
        found = await defer.gatherResults([self._problem(host) for host in hosts])
        problems = dict(zip(hosts, found, strict=True))
        errors: dict[str, list[str]] = {}
        for path, url in pairs:
            host = _host(url)
            problem: str | None
            if host is None:
                problem = scheme_problem(url) or f"{url!r} has an invalid port"
            else:
                problem = scheme_problem(url) or problems.get(host)
            if problem is not None:
                errors.setdefault(path, []).append(f"refused: {problem}")
        return errors

    def _problem(self, host: Host) -> defer.Deferred[str | None]:
        now = time.monotonic()
        cached = self._cache.get(host)
        if cached is not None and cached[0] > now:
            return defer.succeed(cached[1])
        if not self._started:
            self.pool.start()
            self._started = True
        d: defer.Deferred[str | None] = threads.deferToThreadPool(
            self.reactor, self.pool, host_problem, host[0], host[1], self.allow_private,
            self.resolver)
        d.addCallback(self._keep, host)
        d.addTimeout(self.timeout, self.reactor, onTimeoutCancel=lambda *_: None)
        return d

    def _keep(self, problem: str | None, host: Host) -> str | None:
        if len(self._cache) >= CACHE_LIMIT:
            for old in list(self._cache)[:CACHE_LIMIT // 10]:
                del self._cache[old]
        self._cache[host] = (time.monotonic() + self.ttl, problem)
        return problem
