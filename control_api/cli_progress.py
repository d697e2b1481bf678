"""How `crawlplane run --wait` shows a run's progress: a rich progress bar (pages done of
known, elapsed, rate, an estimate that never moves backwards) when stderr is a terminal, and
plain lines otherwise (one when something changed, at most every two seconds)."""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol

PLAIN_EVERY = 2.0


class Display(Protocol):
    def __enter__(self) -> Display: ...
    def __exit__(self, *exc: object) -> None: ...
    def update(self, task: dict[str, Any]) -> None: ...


def progress_display() -> Display:
    if sys.stderr.isatty():
        return BarDisplay()
    return LineDisplay()


class Estimate:
    """Seconds left at the observed rate, never later than the previous estimate said: new
    pages found along the way do not push the finish back and forth."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.finish_at: float | None = None

    def left(self, done: int, total: int) -> float | None:
        now = time.monotonic()
        if done <= 0 or total <= done:
            return 0.0 if total and total <= done else None
        rate = done / max(now - self.started, 1e-6)
        finish = now + (total - done) / rate
        if self.finish_at is not None:
            finish = min(finish, self.finish_at)
        self.finish_at = max(finish, now)
        return self.finish_at - now


def counts(task: dict[str, Any]) -> tuple[int, int]:
    progress = task.get("progress") or {}
    done = int(progress.get("done") or 0)
    return done, done + int(progress.get("queued") or 0)


class LineDisplay:
    def __init__(self) -> None:
        self.last = ""
        self.at = 0.0
        self.started = time.monotonic()

    def __enter__(self) -> LineDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def update(self, task: dict[str, Any]) -> None:
        done, total = counts(task)
        state = (f"task {task['id']} {task['status']}: {done}/{total} pages, "
                 f"{task.get('items') or 0} items")
        now = time.monotonic()
        if state != self.last and (now - self.at >= PLAIN_EVERY or task["status"] not in
                                   ("queued", "running") or not self.last):
            print(f"{state}, {now - self.started:.1f} s", file=sys.stderr, flush=True)
            self.last, self.at = state, now


class BarDisplay:
    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.estimate = Estimate()
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("pages"), TimeElapsedColumn(),
            TextColumn("{task.fields[rate]}"), TextColumn("{task.fields[eta]}"),
            TextColumn("{task.fields[items]} items"),
            console=Console(stderr=True), transient=False)
        self.bar = self.progress.add_task("queued", total=None, rate="", eta="", items=0)

    def __enter__(self) -> BarDisplay:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, task: dict[str, Any]) -> None:
        done, total = counts(task)
        elapsed = time.monotonic() - self.estimate.started
        left = self.estimate.left(done, total)
        self.progress.update(
            self.bar, description=task["status"], completed=done, total=total or None,
            rate=f"{done / elapsed:.1f} pages/s" if elapsed > 0 and done else "",
            eta=f"~{left:.0f} s left" if left is not None and task["status"] == "running"
            else "", items=task.get("items") or 0)
