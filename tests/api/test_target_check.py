"""Creation that does not stall: the outbound check resolves host names in its own small
thread pool with a timeout and a short cache (control_api/web/targets.py), in-process on the
reactor (pytest-twisted), with an injected resolver that hangs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import pytest_twisted
from twisted.internet import defer, reactor, threads

from control_api.web.errors import Unprocessable
from control_api.web.targets import TargetCheck
from control_api.web.task_api import CreateTask

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()  # let the hung resolutions end


def urls(*hosts: str) -> list[tuple[str, str]]:
    return [(f"scheme.start_urls[{i}]", f"http://{h}/") for i, h in enumerate(hosts)]


@pytest_twisted.ensureDeferred
async def test_a_hung_resolver_delays_neither_other_work_nor_the_create(
        release: threading.Event) -> None:
    def hang(host: str, port: int | None) -> list[str]:
        release.wait(30)
        return []

    check = TargetCheck(False, reactor, resolver=hang, timeout=0.5)
    # More hung hosts than the check's pool has threads: all of its threads hang.
    started = time.monotonic()
    pending = defer.ensureDeferred(check.check_urls(urls(*(f"hung{i}.example" for i in range(10)))))
    # The reactor's shared pool (the store's reads) is not touched by the resolutions.
    assert await threads.deferToThread(lambda: "store work") == "store work"
    assert time.monotonic() - started < 0.4
    # The create answers within the timeout, and proceeds: a host that does not resolve in
    # time is one that does not resolve; the crawl's guard checks every request again.
    assert await pending == {}
    assert time.monotonic() - started < 2.0


@pytest_twisted.ensureDeferred
async def test_refusals_answer_422_and_answers_are_cached() -> None:
    calls: list[str] = []

    def private(host: str, port: int | None) -> list[str]:
        calls.append(host)
        return ["10.1.2.3"]

    check = TargetCheck(False, reactor, resolver=private)
    for _ in range(3):
        errors = await check.check_urls(urls("intranet.example", "169.254.169.254"))
        assert set(errors) == {"scheme.start_urls[0]", "scheme.start_urls[1]"}
        assert "resolves to 10.1.2.3" in errors["scheme.start_urls[0]"][0]
    assert calls == ["intranet.example"]  # resolved once, then from the cache
    # The hook itself answers 422 with those paths (API.md section 3).
    body = CreateTask.model_validate({"scheme": {"start_urls": ["http://intranet.example/"]}})
    with pytest.raises(Unprocessable) as refused:
        await check(body)
    assert refused.value.status == 422 and list(refused.value.errors) == ["scheme.start_urls[0]"]
