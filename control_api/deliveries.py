"""Webhook deliveries in the store (synchronous; run in the thread pool): created when a run
ends, claimed when due, one row per attempt. Pending rows live in the store so retries
survive a restart, and several servers sharing a store never send the same attempt twice."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import and_, exists, insert, or_, select, update

from control_api import results
from control_api import tasks as q
from engine.ids import new_id
from engine.store import TERMINAL_STATUSES, Row, Store
from engine.store.tables import deliveries, runs, tasks

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
        joined = {**task, **{f"run_{c}": run[c] for c in q.RUN_COLUMNS}, "run_id": run_id}
        rows.append({**common, "kind": "callback", "url": task["callback_url"],
                     "payload": q.view(joined, base_url, data_dir)})
    if run["status"] == "completed" and task["pingback_url"]:
        rows.append({**common, "kind": "pingback",
                     "url": pingback_url(task["pingback_url"], task["id"], task["tag"])})
    if run["status"] == "completed" and task["postback_url"]:
        rows.append({**common, "kind": "postback", "url": task["postback_url"],
                     "format": task["postback_format"] or "json"})
    with store.begin() as conn:
        if conn.execute(select(deliveries.c.id).where(deliveries.c.run_id == run_id)
                        .limit(1)).first() is not None:
            return 0
        for row in rows:
            conn.execute(insert(deliveries).values(delivery_id=new_id("d"), **row))
    return len(rows)


def catch_up(store: Store, data_dir: Path, base_url: str, window: float = CATCH_UP) -> int:
    """Queue the deliveries of runs that ended while no server was watching (a crawl that
    finished while the server was down): each task's latest run, ended within `window`
    seconds, whose task wants webhooks and which has no deliveries yet."""
    has_hook = or_(tasks.c.callback_url.isnot(None), tasks.c.pingback_url.isnot(None),
                   tasks.c.postback_url.isnot(None))
    with store.engine.connect() as conn:
        missed = list(conn.execute(
            select(runs.c.id).join(tasks, tasks.c.run_id == runs.c.id)
            .where(runs.c.status.in_(TERMINAL_STATUSES),
                   runs.c.ended_at >= time.time() - window, has_hook,
                   ~exists().where(deliveries.c.run_id == runs.c.id))
        ).scalars())
    created = 0
    for run_id in missed:
        results.render_run(store, data_dir, run_id)
        created += create_for_run(store, data_dir, base_url, run_id)
    return created


def claim_due(store: Store, limit: int, lease: float) -> list[Row]:
    """Take up to `limit` attempts that are due: pending ones, and ones another server took
    but never finished (its lease ran out, e.g. it was killed mid-send). Compare-and-set on
    (state, next_attempt_at) so two servers never take the same row."""
    now = time.time()
    due = or_(deliveries.c.state == "pending", deliveries.c.state == "sending")
    with store.engine.connect() as conn:
        candidates = conn.execute(
            select(deliveries).where(due, deliveries.c.next_attempt_at <= now)
            .order_by(deliveries.c.next_attempt_at).limit(limit)
        ).mappings().all()
    claimed = []
    for row in candidates:
        with store.begin() as conn:
            taken = conn.execute(
                update(deliveries)
                .where(and_(deliveries.c.id == row["id"], deliveries.c.state == row["state"],
                            deliveries.c.next_attempt_at == row["next_attempt_at"]))
                .values(state="sending", next_attempt_at=now + lease)
            ).rowcount
        if taken:
            claimed.append(dict(row))
    return claimed


def record(store: Store, row: Row, *, status_code: int | None, error: str | None,
           max_attempts: int, base: float, final: bool = False) -> str:
    """Store an attempt's outcome and schedule the next one; returns the attempt's state.
    A 2xx postback marks the task collected, if the task still shows that run."""
    now = time.time()
    ok = status_code is not None and 200 <= status_code < 300
    retry = not ok and not final and row["attempt"] < max_attempts
    state = "delivered" if ok else "retried" if retry else "failed"
    next_at = now + backoff(row["attempt"], base) if retry else None
    with store.begin() as conn:
        kept = conn.execute(update(deliveries).where(deliveries.c.id == row["id"]).values(
            state=state, status_code=status_code, error=error, at=now, next_attempt_at=next_at))
        if not kept.rowcount:  # the task was deleted meanwhile: no retry for it
            return "gone"
        if retry:
            following = {k: v for k, v in row.items() if k != "id"}
            conn.execute(insert(deliveries).values(
                **{**following, "attempt": row["attempt"] + 1, "state": "pending",
                   "status_code": None, "error": None, "at": None, "next_attempt_at": next_at}))
        if ok and row["kind"] == "postback":
            conn.execute(update(tasks).where(tasks.c.id == row["task_id"],
                                             tasks.c.run_id == row["run_id"])
                         .values(collected=True))
    return state


def log(store: Store, tenant_id: str, task_id: str) -> list[dict[str, Any]]:
    """The delivery log of a task (404 for another tenant's), oldest attempt first."""
    q.get(store, tenant_id, task_id)
    with store.engine.connect() as conn:
        rows = conn.execute(select(deliveries).where(deliveries.c.task_id == task_id)
                            .order_by(deliveries.c.id)).mappings().all()
    return [{"id": r["delivery_id"], "kind": r["kind"], "url": r["url"],
             "attempt": r["attempt"], "status_code": r["status_code"], "error": r["error"],
             "at": q.iso(r["at"]), "next_attempt_at": q.iso(r["next_attempt_at"]),
             "state": r["state"], "run_id": r["run_id"]} for r in rows]
