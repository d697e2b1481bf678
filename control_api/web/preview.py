"""`POST /v1/preview`: one page fetched through the engine and extracted, creating nothing.

The crawl never runs in the API's reactor (DESIGN.md decision 1): one long-lived preview
process (`python -m engine.preview`) takes previews as JSON lines on its stdin and answers on
its stdout, several at once. It is started on the first preview (or when the console's
editor page is served) and kept (warm: a preview
then costs the page's download and extraction, not Scrapy's start-up), and replaced after
`RECYCLE_AFTER` previews or when it exits.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from itertools import count
from typing import Any

from klein import Klein
from pydantic import BaseModel, ConfigDict
from twisted.internet import defer, protocol
from twisted.web.iweb import IRequest

from control_api.web.context import ApiContext
from control_api.web.errors import ApiError, Unprocessable
from control_api.web.http import read_json, send_json, validate
from control_api.web.problems import map_problems
from control_api.web.targets import TargetCheck
from engine.scheme import Scheme
from engine.scheme_types import Url

logger = logging.getLogger(__name__)
RECYCLE_AFTER = 500  # previews per process, then a fresh one (bounds any slow growth)
DEADLINE = 20.0  # seconds a preview's crawl may take, whatever its scheme's timeouts say
TIMEOUT_MARGIN = 10.0  # seconds past the deadline before the API gives up on an answer


class PreviewFailed(ApiError):
    status = 502


class PreviewTimeout(ApiError):
    status = 504


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    scheme: Scheme
    url: Url


class PreviewProcess(protocol.ProcessProtocol):
    """One `engine.preview` process and the previews waiting for its answers."""

    def __init__(self, pool: PreviewPool):
        self.pool = pool
        self.buffer = b""
        self.pending: dict[int, defer.Deferred[dict[str, Any]]] = {}
        self.served = 0
        self.alive = True
        self.stderr = b""

    def outReceived(self, data: bytes) -> None:  # noqa: N802
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            if line.strip():
                self.answered(json.loads(line))

    def errReceived(self, data: bytes) -> None:  # noqa: N802
        self.stderr = (self.stderr + data)[-4000:]

    def ask(self, job_id: int, scheme: dict[str, Any], url: str,
            deadline: float) -> defer.Deferred[Any]:
        d: defer.Deferred[dict[str, Any]] = defer.Deferred()
        self.pending[job_id] = d
        self.served += 1
        assert self.transport is not None
        self.transport.write(json.dumps({"id": job_id, "scheme": scheme, "url": url,
                                         "deadline": deadline}).encode() + b"\n")
        return d

    def answered(self, message: dict[str, Any]) -> None:
        d = self.pending.pop(message.get("id"), None)  # type: ignore[arg-type]
        if d is not None:
            d.callback(message)
        if not self.pending and not self.alive:
            self.close()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.closeStdin()

    def processEnded(self, reason: Any) -> None:  # noqa: N802
        self.alive = False
        self.pool.ended(self)
        detail = self.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        for d in self.pending.values():
            d.errback(PreviewFailed(f"the preview process exited: {detail[0]}"))
        self.pending.clear()


class PreviewPool:
    """The preview process: started when first needed, replaced when spent or gone."""

    def __init__(self, reactor: Any, env: dict[str, str]):
        self.reactor = reactor
        self.env = env
        self.current: PreviewProcess | None = None
        self.ids = count(1)

    def process(self) -> PreviewProcess:
        if self.current is None or not self.current.alive:
            self.current = PreviewProcess(self)
            self.reactor.spawnProcess(self.current, sys.executable,
                                      [sys.executable, "-m", "engine.preview"], env=self.env,
                                      childFDs={0: "w", 1: "r", 2: "r"})
        return self.current

    def preview(self, scheme: dict[str, Any], url: str, deadline: float) -> defer.Deferred[Any]:
        worker = self.process()
        d = worker.ask(next(self.ids), scheme, url, deadline)
        if worker.served >= RECYCLE_AFTER:  # new previews go to a fresh process
            worker.alive = False
            self.current = None
            if not worker.pending:
                worker.close()
        d.addTimeout(deadline + TIMEOUT_MARGIN, self.reactor)
        return d

    def ended(self, worker: PreviewProcess) -> None:
        if self.current is worker:
            self.current = None

    def stop(self) -> None:
        if self.current is not None:
            self.current.close()


class PreviewAPI:
    app = Klein()

    def __init__(self, ctx: ApiContext, reactor: Any):
        self.ctx = ctx
        self.pool = PreviewPool(reactor, {**os.environ, **ctx.config.crawl_env()})

    @app.route("/v1/preview", methods=["POST"])
    async def preview(self, request: IRequest) -> bytes:
        await self.ctx.auth.principal(request)
        data = read_json(request, self.ctx.config.body_limit)
        if isinstance(data, dict) and isinstance(data.get("scheme"), dict):
            scheme = data["scheme"]
            if "start_urls" not in scheme and isinstance(data.get("url"), str):
                data["scheme"] = {**scheme, "start_urls": [data["url"]]}  # optional here
        body = validate(PreviewRequest, data)
        urls = [("url", body.url)] + [(f"scheme.proxy.gates[{i}].url", g.url)
                                      for i, g in enumerate(body.scheme.proxy.gates)]
        check = self.ctx.target_check  # the same outbound rules as a task's creation
        errors = await check.check_urls(urls) if isinstance(check, TargetCheck) else {}
        if errors:
            raise Unprocessable(errors, "an outbound URL points where requests are not allowed")
        try:
            message = await self.pool.preview(body.scheme.model_dump(mode="json"), body.url,
                                              DEADLINE)
        except defer.TimeoutError:
            raise PreviewTimeout(f"no answer from the preview process within "
                                 f"{DEADLINE + TIMEOUT_MARGIN:.0f} s") from None
        if "error" in message:
            raise PreviewFailed(f"the preview failed: {message['error']}")
        return send_json(request, message["result"])


map_problems(PreviewAPI.app)
