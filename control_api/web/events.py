"""GET /v1/tasks/{id}/events: a task's run as Server-Sent Events, from one shared poller.

Events: `progress` (pages done, queued, failed, items, requests/s; only when they changed),
`page_failed` (url, reason), `status` (a status change), `end` (the task object; the stream
then closes). Every event's `id` is a cursor `<run id>.<failed pages sent>.<status>.<pages
done>` (`end` for the status once the end was sent): resuming with `Last-Event-ID` sends only
the page failures after it, and the status and progress only when they differ from it. A
reconnect after the end of the task's latest run answers 204, which tells an EventSource to
stop reconnecting. A `: ping` comment goes out every `heartbeat` seconds.

The hub polls the store for every watched task in one thread call, every `interval` seconds,
and only while someone listens (one watch per task, shared by its subscribers); a closed
connection unsubscribes at once.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.web.iweb import IRequest

from control_api.web import task_view as q
from control_api.web.errors import TaskNotFound
from control_api.web.offload import in_thread
from engine.outcome import failure_key, page_error
from engine.store import Row, Store, outage
from engine.store import events as queries
from engine.store.status import INITIALIZED, TERMINAL_STATUSES

logger = logging.getLogger(__name__)
END = "end"
PAGE_BATCH = 500  # failed pages read per task and poll


@dataclass
class Cursor:
    """Where a subscriber is in its task's latest run; an event's id."""

    run_id: str | None = None
    failed: int = 0  # failed pages of the run sent
    status: str | None = None  # the last status sent, or END
    done: int | None = None  # pages done at the last progress sent

    def encode(self) -> str:
        done = "-" if self.done is None else str(self.done)
        return f"{self.run_id or '-'}.{self.failed}.{self.status or '-'}.{done}"

    @classmethod
    def parse(cls, text: str | None) -> Cursor:
        """A Last-Event-ID; anything unreadable starts from the beginning."""
        parts = (text or "").strip().split(".")
        if len(parts) != 4 or not parts[1].isdigit():
            return cls()
        run_id, failed, status, done = parts
        return cls(None if run_id == "-" else run_id, int(failed),
                   None if status == "-" else status, int(done) if done.isdigit() else None)


def frame(event: str, data: Any, event_id: str) -> bytes:
    return (f"id: {event_id}\nevent: {event}\ndata: "
            f"{json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n").encode()


@dataclass(eq=False)
class Subscriber:
    """One open stream: `write` bytes to it, `close` it (after its end event)."""

    write: Callable[[bytes], None]
    close: Callable[[], None]
    tenant_id: str
    base_url: str = ""
    cursor: Cursor = field(default_factory=Cursor)
    progress: tuple[int, ...] | None = None
    last_write: float = 0.0
    closed: bool = False

    def send(self, event: str, data: Any, now: float) -> None:
        self.write(frame(event, data, self.cursor.encode()))
        self.last_write = now


@dataclass(eq=False)
class Watch:
    """One task's poller state, shared by its subscribers."""

    task_id: str
    subscribers: list[Subscriber] = field(default_factory=list)
    run_id: str | None = None
    known_failed: int = 0  # failed pages read so far (the next one's position)
    swept: bool = False  # the ended run's failed pages are all read
    rates: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=8))

    def offset(self) -> int:
        """From which failed page the next read starts: the furthest behind subscriber's."""
        behind = [s.cursor.failed for s in self.subscribers if s.cursor.run_id == self.run_id]
        if len(behind) < len(self.subscribers):  # a subscriber of another (older) run
            behind.append(0)
        return min([self.known_failed, *behind])

    def rate(self) -> float:
        if len(self.rates) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self.rates[0], self.rates[-1]
        return round((n1 - n0) / (t1 - t0), 2) if t1 > t0 else 0.0


class EventHub:
    def __init__(self, store: Store, clock: IReactorTime, data_dir: Path, *,
                 interval: float = 0.5, heartbeat: float = 15.0,
                 run_in_thread: Callable[..., Any] = in_thread):
        self.store = store
        self.clock = clock
        self.data_dir = data_dir
        self.interval = interval
        self.heartbeat = heartbeat
        self.run_in_thread = run_in_thread
        self.watches: dict[str, Watch] = {}
        self.polls = 0
        self._call: IDelayedCall | None = None
        self._polling = False
        self._inflight: defer.Deferred[None] | None = None

    # -- subscribers ---------------------------------------------------------------------------

    def subscribe(self, task_id: str, subscriber: Subscriber) -> None:
        subscriber.last_write = self.clock.seconds()
        self.watches.setdefault(task_id, Watch(task_id)).subscribers.append(subscriber)
        self._schedule(0)

    def unsubscribe(self, task_id: str, subscriber: Subscriber) -> None:
        subscriber.closed = True
        watch = self.watches.get(task_id)
        if watch is None or subscriber not in watch.subscribers:
            return
        watch.subscribers.remove(subscriber)
        if not watch.subscribers:
            del self.watches[task_id]
        if not self.watches and self._call is not None and self._call.active():
            self._call.cancel()  # nobody listens: no more polls
            self._call = None

    def subscribers(self) -> int:
        return sum(len(w.subscribers) for w in self.watches.values())

    # -- polling -------------------------------------------------------------------------------

    def _schedule(self, delay: float) -> None:
        if self._polling or not self.watches:
            return
        if self._call is not None and self._call.active():
            if self._call.getTime() <= self.clock.seconds() + delay:
                return
            self._call.cancel()
        self._call = self.clock.callLater(delay, self.poll)

    def poll(self) -> Any:
        """Read every watched task in one thread call, then send what changed."""
        if self._call is not None and self._call.active():
            self._call.cancel()  # called directly (tests), not by its timer
        self._call = None
        if self._inflight is not None:  # one read at a time: wait for it
            waiter: defer.Deferred[None] = defer.Deferred()

            def done(result: Any) -> Any:
                waiter.callback(None)
                return result

            self._inflight.addBoth(done)
            return waiter
        if not self.watches:
            return None
        self._polling = True
        self.polls += 1
        wanted = {task_id: (w.run_id, w.offset(), w.known_failed, w.swept)
                  for task_id, w in self.watches.items()}
        tenants = {task_id: w.subscribers[0].tenant_id
                   for task_id, w in self.watches.items() if w.subscribers}
        d = defer.maybeDeferred(self.run_in_thread, self._read, wanted, tenants)
        d.addCallback(self._dispatch)
        d.addErrback(lambda f: outage.log_failure(logger, "event poll failed", f))

        def again(_: object) -> None:
            self._polling = False
            self._inflight = None
            self._schedule(self.interval)

        d.addBoth(again)
        if self._polling:
            self._inflight = d
        return d

    def _read(self, wanted: dict[str, tuple[str | None, int, int, bool]],
              tenants: dict[str, str]) -> dict[str, Any]:
        """In a thread: each task's run, its new failed pages, and its task row once ended."""
        rows = queries.watch(self.store, list(wanted))
        out: dict[str, Any] = {}
        for task_id, row in rows.items():
            run_id, offset, known, swept = wanted[task_id]
            if row["run_id"] != run_id:
                offset, known, swept = 0, 0, False
            ended = row["run_status"] in TERMINAL_STATUSES
            pages: list[Row] = []
            if row["run_id"] and (offset < known or (row["run_failed"] or 0) > known
                                  or (ended and not swept)):
                pages = queries.failed_pages(self.store, task_id, row["run_id"], offset,
                                             PAGE_BATCH)
            task = None
            if ended and len(pages) < PAGE_BATCH:
                try:
                    task = q.get(self.store, tenants[task_id], task_id)
                except TaskNotFound:
                    continue  # deleted meanwhile
            out[task_id] = {"row": row, "offset": offset, "pages": pages, "task": task}
        return out

    def _dispatch(self, result: dict[str, Any]) -> None:
        now = self.clock.seconds()
        for task_id, watch in list(self.watches.items()):
            got = result.get(task_id)
            if got is None:  # the task is gone
                for sub in list(watch.subscribers):
                    sub.send(END, {"id": task_id, "deleted": True}, now)
                    self._end(task_id, sub)
                continue
            row = got["row"]
            if row["run_id"] != watch.run_id:
                watch.run_id, watch.known_failed, watch.swept = row["run_id"], 0, False
                watch.rates.clear()
            watch.rates.append((now, row["run_pages"] or 0))
            pages = got["pages"]
            watch.known_failed = max(watch.known_failed, got["offset"] + len(pages))
            if got["task"] is not None:
                watch.swept = True
            for sub in list(watch.subscribers):
                self._update(watch, sub, row, got, now)
            for sub in watch.subscribers:
                if now - sub.last_write >= self.heartbeat:
                    sub.write(b": ping\n\n")
                    sub.last_write = now

    def _update(self, watch: Watch, sub: Subscriber, row: Row, got: dict[str, Any],
                now: float) -> None:
        cursor = sub.cursor
        if cursor.run_id != row["run_id"]:
            sub.cursor = cursor = Cursor(row["run_id"])
            sub.progress = None
        for position, page in enumerate(got["pages"], start=got["offset"]):
            if position < cursor.failed:
                continue
            if position > cursor.failed:
                break  # a gap: read again from this subscriber's place next time
            cursor.failed += 1
            sub.send("page_failed", {"id": page["id"], "url": page["url"],
                                     "reason": failure_key(page) or "other",
                                     "error": page_error(page), "state": page["state"],
                                     "http_status": page["http_status"]}, now)
        status = row["run_status"] or INITIALIZED
        if status != cursor.status and not (cursor.status == END
                                            and status in TERMINAL_STATUSES):
            cursor.status = status
            sub.send("status", {"status": status, "run_id": row["run_id"],
                                "error": row["run_error"]}, now)
        done = row["run_pages"] or 0
        progress = (done, row["run_queued"] or 0, row["run_failed"] or 0, row["run_items"] or 0)
        if progress != sub.progress and not (sub.progress is None and cursor.done == done):
            cursor.done = done
            sub.progress = progress
            sub.send("progress", {"done": done, "queued": progress[1], "failed": progress[2],
                                  "items": progress[3], "requests_per_s": watch.rate(),
                                  "run_id": row["run_id"]}, now)
        sub.progress = progress
        if got["task"] is not None and cursor.failed >= watch.known_failed:
            cursor.status = END
            sub.send(END, q.view(got["task"], sub.base_url, self.data_dir), now)
            self._end(watch.task_id, sub)

    def _end(self, task_id: str, sub: Subscriber) -> None:
        self.unsubscribe(task_id, sub)
        sub.close()


# -- the endpoint ----------------------------------------------------------------------------

async def serve(ctx: Any, hub: EventHub, request: IRequest, task_id: str,
                retry_ms: int = 3000) -> bytes:
    """The stream of one task, until its run ends or the client goes."""
    who = await ctx.auth.principal(request)
    row = await in_thread(q.get, ctx.store, who.tenant_id, task_id)  # 404 for strangers
    last = request.getHeader(b"last-event-id")
    if last is None and request.args.get(b"lastEventId"):
        last = request.args[b"lastEventId"][0]
    cursor = Cursor.parse(last.decode("latin-1") if isinstance(last, bytes) else last)
    if (cursor.status == END and cursor.run_id == row["run_id"]
            and q.status_of(row) in TERMINAL_STATUSES):
        request.setResponseCode(204)  # seen to its end: an EventSource stops reconnecting
        return b""
    request.setHeader(b"Content-Type", b"text/event-stream; charset=utf-8")
    request.setHeader(b"Cache-Control", b"no-cache")
    request.setHeader(b"X-Accel-Buffering", b"no")
    request.write(f"retry: {retry_ms}\n\n".encode())
    finished: defer.Deferred[None] = defer.Deferred()

    def close() -> None:
        if not finished.called:
            finished.callback(None)

    sub = Subscriber(request.write, close, who.tenant_id, ctx.base_url(request), cursor)
    gone = request.notifyFinish()  # type: ignore[attr-defined]
    gone.addBoth(lambda _: hub.unsubscribe(task_id, sub))
    hub.subscribe(task_id, sub)
    try:
        await finished  # cancelled by Klein when the client disconnects
    finally:
        hub.unsubscribe(task_id, sub)
    return b""
