"""Completion webhooks (API.md section 5): callback, pingback and postback deliveries, signed,
sent from the API process and retried from the store.

Signature: `X-Crawlplane-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` of `"<t>." + body`
(the bytes exactly as sent, after gzip; empty for a GET), keyed with the UTF-8 bytes of the
tenant's webhook secret (`whsec_...`, read at send time, so a rotation applies to retries).
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import logging
import time
from pathlib import Path
from typing import Any

import treq
from twisted.internet import defer, task, threads
from twisted.internet.error import TimeoutError as DeferredTimeout
from twisted.python.failure import Failure
from twisted.web.client import HTTPConnectionPool, ResponseNeverReceived
from twisted.web.http_headers import Headers

from control_api import results
from control_api.background import deliveries
from control_api.background.safe_http import safe_agent
from control_api.config import Config
from control_api.keys import webhook_secret
from engine import outbound
from engine.scheme import Scheme
from engine.store import Row, Store, outage

logger = logging.getLogger(__name__)
USER_AGENT = "Crawlplane-Webhooks/0.1"
MAX_IN_FLIGHT = 32
LEASE_SLACK = 30.0  # seconds past the timeout before another server may retake an attempt


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def prepare(store: Store, data_dir: Path, row: Row, allow_private: bool
            ) -> tuple[str, bytes, dict[str, str], str]:
    """What to send for a delivery attempt: method, body, headers and the signing secret.
    Re-checks the URL (DNS may have changed since the task was created): raises Refused."""
    outbound.check_url(row["url"], allow_private)
    headers = {"User-Agent": USER_AGENT, "X-Crawlplane-Delivery": row["delivery_id"]}
    method, body = "POST", b""
    if row["kind"] == "callback":
        body = json.dumps(row["payload"], ensure_ascii=False).encode()
        headers["Content-Type"] = "application/json"
    elif row["kind"] == "pingback":
        method = "GET"
    else:
        task_row = store.get_task(row["task_id"])
        if task_row is None:
            raise LookupError(f"task {row['task_id']} is gone")
        fmt = row["format"] or "json"
        path = results.render(store, data_dir, row["run_id"],
                              Scheme.model_validate(task_row["scheme"]), fmt)
        body = gzip.compress(path.read_bytes(), mtime=0)
        headers["Content-Type"] = results.CONTENT_TYPES[fmt]
        headers["Content-Encoding"] = "gzip"
    return method, body, headers, webhook_secret(store, row["tenant_id"])


def describe(failure: Failure, timeout: float) -> str:
    if failure.check(DeferredTimeout, defer.CancelledError):
        return f"no answer within {timeout:g} s"
    if failure.check(ResponseNeverReceived):
        reasons = getattr(failure.value, "reasons", [])
        if reasons and reasons[0].check(defer.CancelledError):
            return f"no answer within {timeout:g} s"
        failure = reasons[0] if reasons else failure
    return f"{type(failure.value).__name__}: {failure.getErrorMessage()}"


class WebhookSender:
    """Creates deliveries when runs end and sends the due ones every `webhook_poll` seconds."""

    def __init__(self, store: Store, config: Config, reactor: Any):
        self.store = store
        self.config = config
        self.reactor = reactor
        self.base_url = config.public_url or f"http://{config.host}:{config.port}"
        self.in_flight = 0
        self._polling = False
        self._loop = task.LoopingCall(self.poll)
        self._loop.clock = reactor
        # No connection reuse: receivers are many and rarely called twice in a row.
        self._pool = HTTPConnectionPool(reactor, persistent=False)

    def start(self, base_url: str | None = None) -> None:
        if base_url and not self.config.public_url:
            self.base_url = base_url
        d = threads.deferToThread(deliveries.catch_up, self.store, self.config.data_dir,
                                  self.base_url)
        d.addCallback(self._caught_up)
        d.addErrback(lambda f: logger.error("catching up on deliveries failed: %s",
                                            f.getTraceback()))
        d.addBoth(lambda _: self._loop.start(self.config.webhook_poll, now=True))

    @staticmethod
    def _caught_up(created: int) -> None:
        if created:
            logger.info("queued %d deliveries of runs that ended while no server was watching",
                        created)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    def run_finished(self, run_id: str, task: Row | None = None) -> Any:
        """A `Server.finished_hooks` entry: queue the run's deliveries, then send them now."""
        if task is not None and not (task["callback_url"] or task["pingback_url"]
                                     or task["postback_url"]):
            return None
        d = threads.deferToThread(deliveries.create_for_run, self.store, self.config.data_dir,
                                  self.base_url, run_id)
        d.addCallback(lambda created: self.poll() if created else None)
        return d

    def poll(self) -> None:
        room = MAX_IN_FLIGHT - self.in_flight
        if self._polling or room <= 0:
            return
        self._polling = True
        lease = self.config.webhook_timeout + LEASE_SLACK
        d = threads.deferToThread(deliveries.claim_due, self.store, room, lease)
        d.addCallback(self._send_all)
        d.addErrback(lambda f: outage.log_failure(logger, "claiming deliveries failed", f))
        d.addBoth(self._polled)

    def _polled(self, _: object) -> None:
        self._polling = False

    def _send_all(self, rows: list[Row]) -> None:
        for row in rows:
            self.in_flight += 1
            d = defer.Deferred.fromCoroutine(self.attempt(row))
            d.addErrback(self._failed, row)
            d.addBoth(self._done)

    @staticmethod
    def _failed(failure: Failure, row: Row) -> None:
        logger.error("delivery %s failed: %s", row["delivery_id"], failure.getTraceback())

    def _done(self, _: object) -> None:
        self.in_flight -= 1

    async def attempt(self, row: Row) -> str:
        """One attempt at a delivery; records its outcome and returns the attempt's state."""
        status_code: int | None = None
        error: str | None = None
        final = False
        try:
            method, body, headers, secret = await threads.deferToThread(
                prepare, self.store, self.config.data_dir, row,
                self.config.allow_private_targets)
        except outbound.Refused as exc:
            error, final = str(exc), True
        except Exception as exc:  # results gone, store trouble: worth another try later
            error = f"could not prepare the delivery: {exc}"
        else:
            headers["X-Crawlplane-Signature"] = sign(secret, body)
            exchange = defer.Deferred.fromCoroutine(
                self._exchange(method, row["url"], body, headers))
            exchange.addTimeout(self.config.webhook_timeout, self.reactor)
            try:
                status_code = await exchange
            except Exception:
                error = describe(Failure(), self.config.webhook_timeout)
            else:
                if not 200 <= status_code < 300:
                    error = f"answered HTTP {status_code}, not 2xx"
        state: str = await threads.deferToThread(
            deliveries.record, self.store, row, status_code=status_code, error=error,
            max_attempts=self.config.webhook_max_attempts, base=self.config.webhook_backoff,
            final=final)
        logger.info("delivery %s (%s, attempt %d) to %s: %s%s", row["delivery_id"], row["kind"],
                    row["attempt"], row["url"], state, f" ({error})" if error else "")
        return state

    async def _exchange(self, method: str, url: str, body: bytes,
                        headers: dict[str, str]) -> int:
        # A fresh client each time: no cookies carried from one tenant's receiver to another.
        client = treq.client.HTTPClient(safe_agent(
            self.reactor, self._pool, self.config.allow_private_targets,
            self.config.webhook_timeout))
        response = await client.request(method, url, data=body or None,
                                        headers=Headers({k: [v] for k, v in headers.items()}),
                                        allow_redirects=False)  # a redirect is no delivery
        await treq.collect(response, lambda _: None)  # read (and drop) the answer's body
        return int(response.code)
