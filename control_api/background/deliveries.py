"""Webhook deliveries (synchronous; run in the thread pool): created when a run ends, claimed
when due, one row per attempt, retried with backoff. Pending rows live in the store
(`engine.store.deliveries`), so retries survive a restart and several servers sharing a store
never send the same attempt twice."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from control_api import results
from control_api.web import task_view as q
from engine.store import Row, Store
from engine.store import deliveries as delivery_store
from engine.store.deliveries import claim_due
from engine.store.status import COMPLETED, TERMINAL_STATUSES
from engine.store.tasks import joined

__all__ = ["backoff", "catch_up", "claim_due", "create_for_run", "log", "pingback_url",
           "record"]

MAX_DELAY = 3600.0  # the longest wait between two attempts
CATCH_UP = 24 * 3600.0  # how far back a starting server looks for runs it never saw end


def backoff(attempt: int, base: float) -> float:
    """Seconds before the attempt after `attempt` (1-based): doubling from `base`, capped,
    with "equal jitter" so that receivers coming back up are not hit by every retry at once."""
    delay = min(MAX_DELAY, base * 2.0 ** (attempt - 1))
    return delay / 2 + random.uniform(0, delay / 2)


def pingback_url(template: str, task_id: str, tag: str | None) -> str:
    return template.replace("$id", quote(task_id, safe="")).replace(
        "$tag", quote(tag or "", safe=""))


def create_for_run(store: Store, data_dir: Path, base_url: str, run_id: str) -> int:
    """Queue the deliveries a finished run calls for; returns how many. Idempotent: a run
    that already has deliveries (a hook called twice, say after recovery) gets none."""
    run = store.get_run(run_id)
    if run is None or run["status"] not in TERMINAL_STATUSES:
        return 0
    task = store.get_task(run["task_id"])
    if task is None or not (task["callback_url"] or task["pingback_url"]
                            or task["postback_url"]):
        return 0
    now = time.time()
    common = {"tenant_id": task["tenant_id"], "task_id": task["id"], "run_id": run_id,
              "attempt": 1, "state": "pending", "next_attempt_at": now}
    rows: list[Row] = []
    if task["callback_url"]:
        # The task object as this run ended, even if another run was queued meanwhile.
        rows.append({**common, "kind": "callback", "url": task["callback_url"],
                     "payload": q.view(joined(task, run), base_url, data_dir)})
    if run["status"] == COMPLETED and task["pingback_url"]:
        rows.append({**common, "kind": "pingback",
                     "url": pingback_url(task["pingback_url"], task["id"], task["tag"])})
    if run["status"] == COMPLETED and task["postback_url"]:
        rows.append({**common, "kind": "postback", "url": task["postback_url"],
                     "format": task["postback_format"] or "json"})
    return delivery_store.add_for_run(store, run_id, rows)


def catch_up(store: Store, data_dir: Path, base_url: str, window: float = CATCH_UP) -> int:
    """Queue the deliveries of runs that ended while no server was watching (a crawl that
    finished while the server was down): each task's latest run, ended within `window`
    seconds, whose task wants webhooks and which has no deliveries yet."""
    missed = delivery_store.missed_runs(store, window)
    created = 0
    for run_id in missed:
        results.render_run(store, data_dir, run_id)
        created += create_for_run(store, data_dir, base_url, run_id)
    return created


def record(store: Store, row: Row, *, status_code: int | None, error: str | None,
           max_attempts: int, base: float, final: bool = False) -> str:
    """Store an attempt's outcome and schedule the next one; returns the attempt's state.
    A 2xx postback marks the task collected, if the task still shows that run."""
    now = time.time()
    ok = status_code is not None and 200 <= status_code < 300
    retry = not ok and not final and row["attempt"] < max_attempts
    state = "delivered" if ok else "retried" if retry else "failed"
    next_at = now + backoff(row["attempt"], base) if retry else None
    if not delivery_store.record(store, row, state=state, status_code=status_code, error=error,
                                 at=now, next_at=next_at,
                                 collected=ok and row["kind"] == "postback"):
        return "gone"  # the task was deleted meanwhile: no retry for it
    return state


def log(store: Store, tenant_id: str, task_id: str) -> list[dict[str, Any]]:
    """The delivery log of a task (404 for another tenant's), oldest attempt first."""
    q.get(store, tenant_id, task_id)
    rows = delivery_store.for_task(store, task_id)
    return [{"id": r["delivery_id"], "kind": r["kind"], "url": r["url"],
             "attempt": r["attempt"], "status_code": r["status_code"], "error": r["error"],
             "at": q.iso(r["at"]), "next_attempt_at": q.iso(r["next_attempt_at"]),
             "state": r["state"], "run_id": r["run_id"]} for r in rows]
