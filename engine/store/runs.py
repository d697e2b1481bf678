"""Run transitions: the only code that changes a run's status (DESIGN.md decision 8).

One function per transition, each naming the statuses it may move a run from, so that a late
writer (a crawl closing after a cancel, a launcher noticing a process gone after its crawl
finished) never overwrites a final status:

    queue     (new)                  -> queued
    claim     queued, unclaimed      -> queued, taken by a launcher
    requeue   queued, taken          -> queued, unclaimed (it never started)
    start     queued                 -> running
    finish    queued | running       -> completed | cancelled | error
    cancel    queued | running       -> cancelled (and the crawl is asked to stop)
    expire    running, silent        -> error
    pause     queued | running       -> paused (the crawl stops at its next flush)
    resume    paused                 -> queued, unclaimed (the frontier carries on)
    crashed   queued | running       -> queued, unclaimed (its crawl process died: the pages
                                        it held go back to the frontier), or error after
                                        `max_tries` deaths

Each takes a Store (its own transaction) or a Connection (the caller's transaction).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, Update, bindparam, func, insert, null, select, update
from sqlalchemy.engine import Connection

from engine.ids import new_id
from engine.store import sizes as result_sizes
from engine.store.frontier import open_pages
from engine.store.frontier import release as release_pages
from engine.store.status import (
    ACTIVE_STATUSES,
    CANCELLED,
    ERROR,
    PAUSED,
    QUEUED,
    RUNNING,
    TERMINAL_STATUSES,
)
from engine.store.tables import runs, tasks

if TYPE_CHECKING:
    from engine.store.store import Store

Row = dict[str, Any]


@contextmanager
def transaction(target: Store | Connection) -> Iterator[Connection]:
    """The caller's transaction, or a new one on the store."""
    if isinstance(target, Connection):
        yield target
    else:
        with target.engine.begin() as conn:
            yield conn


def update_run(conn: Connection, run_id: str, only_if: Sequence[str] = (),
               **values: Any) -> bool:
    """Update a run, only while its status is one of `only_if` (when given); True if it did.
    A status change shows on the task as its `updated_at`."""
    changed = set_run(conn, run_id, values, only_if)
    if changed and "status" in values:
        _show_on_task(conn, run_id, time.time())
    return changed


def _show_on_task(conn: Connection, run_id: str, at: float) -> None:
    """The run's status changed: its task shows it as its `updated_at`."""
    conn.execute(_TOUCH_TASK, {"b_run_id": run_id, "b_updated_at": at})


def set_run(conn: Connection, run_id: str, values: Mapping[str, Any],
            only_if: Sequence[str] = ()) -> bool:
    """Set `values` on the run, only while its status is one of `only_if`; True if it did."""
    nulls = tuple(k for k, v in values.items() if v is None)
    params = {f"v_{k}": v for k, v in values.items() if v is not None}
    query = _set_run(tuple(values), tuple(only_if), nulls)
    return conn.execute(query, {"b_id": run_id, **params}).rowcount > 0


# The statements every run goes through, built once (per shape: the columns set, those set
# to null, the statuses it may move from): they cost more to build than to run (store.py).
_THIS_RUN = runs.c.id == bindparam("b_id")
_TOUCH_TASK = update(tasks).where(tasks.c.run_id == bindparam("b_run_id")).values(
    updated_at=bindparam("b_updated_at"))


@functools.lru_cache(maxsize=256)
def _set_run(names: tuple[str, ...], only_if: tuple[str, ...], nulls: tuple[str, ...]
             ) -> Update:
    query = update(runs).where(_THIS_RUN)
    if only_if:
        query = query.where(runs.c.status.in_(only_if))
    # (a null as SQL's NULL, as `values(x=None)` writes it: a JSON column's bound None is
    # the JSON text 'null')
    return query.values({name: null() if name in nulls
                         else bindparam(f"v_{name}", type_=runs.c[name].type)
                         for name in names})


# -- transitions ---------------------------------------------------------------------------

def queue(target: Store | Connection, task_id: str, launcher: str | None = None) -> Row:
    """A new queued run, now the task's latest; with `launcher`, one already taken (no
    launcher will claim it: a crawl started outside the server)."""
    now = time.time()
    run: Row = {"id": new_id("r"), "task_id": task_id, "status": QUEUED, "queued_at": now,
                "launcher": launcher}
    with transaction(target) as conn:
        conn.execute(insert(runs), run)
        conn.execute(_MAKE_LATEST, {"b_id": task_id, "b_run_id": run["id"], "b_now": now})
    return run


_MAKE_LATEST = update(tasks).where(tasks.c.id == bindparam("b_id")).values(
    run_id=bindparam("b_run_id"), collected=False, updated_at=bindparam("b_now"))


def claim(store: Store, launcher: str, limit: int,
          fits: Callable[[Row], bool] | None = None, scan: int | None = None) -> list[Row]:
    """Take up to `limit` queued runs nobody has taken, oldest first, each with its task's
    `scheme` and `kind` (read in the same round trip). With `fits`, the first `scan` queued
    runs are looked at and only those `fits` accepts are taken (the launcher's room for them
    depends on each run's scheme); `fits` is asked in queue order."""
    claimed: list[Row] = []
    with store.engine.begin() as conn:
        candidates = conn.execute(
            _QUEUED, {"limit": scan if fits is not None and scan else limit}).all()
        for run in candidates:
            row = {"id": run.id, "task_id": run.task_id, "scheme": run.scheme or {},
                   "kind": run.kind}
            if len(claimed) >= limit or (fits is not None and not fits(row)):
                continue
            taken = conn.execute(_TAKE, {"b_id": run.id, "v_launcher": launcher}).rowcount
            if taken:
                claimed.append(row)
    return claimed


# The launchers' polls and every run's claim, built once.
_QUEUED = (select(runs.c.id, runs.c.task_id, tasks.c.scheme, tasks.c.kind)
           .join(tasks, tasks.c.id == runs.c.task_id)
           .where(runs.c.status == QUEUED, runs.c.launcher.is_(None))
           .order_by(runs.c.queued_at).limit(bindparam("limit")))
_TAKE = update(runs).where(_THIS_RUN, runs.c.launcher.is_(None)).values(
    launcher=bindparam("v_launcher"))


def place(store: Store, run_id: str, handle: str) -> bool:
    """Record where a claimed run runs: the launcher's handle (a pid, a Scrapyd job)."""
    with store.engine.begin() as conn:
        return update_run(conn, run_id, handle=handle)


def place_all(store: Store, placed: Sequence[tuple[str, str]]) -> None:
    """`place` for several runs at once, (run id, handle) each: one transaction."""
    with store.engine.begin() as conn:
        for run_id, handle in placed:
            update_run(conn, run_id, handle=handle)


def requeue(store: Store, run_id: str) -> bool:
    """Give a run that never started back to the queue, for any launcher to claim."""
    with store.engine.begin() as conn:
        return update_run(conn, run_id, only_if=(QUEUED,), launcher=None, handle=None)


def requeue_unplaced(store: Store, launcher: str) -> int:
    """Runs a launcher claimed but never placed (no handle) go back to the queue."""
    with store.engine.begin() as conn:
        return int(conn.execute(
            update(runs).where(runs.c.launcher == launcher, runs.c.status == QUEUED,
                               runs.c.handle.is_(None))
            .values(launcher=None)
        ).rowcount)


def start(store: Store, run_id: str) -> bool:
    """The crawl began: False when the run was cancelled (or deleted) before it got there."""
    now = time.time()
    with store.engine.begin() as conn:
        if conn.execute(_START, {"b_id": run_id, "v_now": now}).rowcount == 0:
            return False
        _show_on_task(conn, run_id, now)
        return True


# A run that carries on (resumed, or after its crawl process died) keeps its start.
_START = update(runs).where(_THIS_RUN, runs.c.status == QUEUED).values(
    status=RUNNING, started_at=func.coalesce(runs.c.started_at, bindparam("v_now")),
    heartbeat_at=bindparam("v_now"))


def finish(target: Store | Connection, run_id: str, status: str, error: str | None = None,
           sizes: dict[str, int] | None = None, **values: Any) -> bool:
    """End an active run as `status` (with `values`, e.g. final counters, and the `sizes` of
    results files just rendered, in the same write); False when it had ended already (its
    first end stands, and `sizes` are not recorded)."""
    assert status in TERMINAL_STATUSES
    with transaction(target) as conn:
        if sizes:
            values["result_sizes"] = result_sizes.merged(conn, run_id, sizes)
        return update_run(conn, run_id, only_if=ACTIVE_STATUSES, status=status, error=error,
                          ended_at=time.time(), **values)


def cancel(target: Store | Connection, run_id: str) -> bool:
    """Cancel an active run (its data is kept); its crawl sees `cancel_requested` and stops."""
    with transaction(target) as conn:
        return update_run(conn, run_id, only_if=ACTIVE_STATUSES, status=CANCELLED,
                          cancel_requested=True, ended_at=time.time())


def pause(target: Store | Connection, run_id: str, by: str | None = None) -> bool:
    """Pause an active run; `by` says who (a stopping server resumes its own when it starts)."""
    with transaction(target) as conn:
        return update_run(conn, run_id, only_if=ACTIVE_STATUSES, status=PAUSED, paused_by=by)


def resume(target: Store | Connection, run_id: str) -> bool:
    """Queue a paused run again, for any launcher to claim; its crawl carries on."""
    with transaction(target) as conn:
        return update_run(conn, run_id, only_if=(PAUSED,), status=QUEUED, launcher=None,
                          handle=None, paused_by=None)


def paused_by(store: Store, by: str) -> list[Row]:
    """The runs `by` paused (a server that stopped, now starting again): id and handle."""
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(runs.c.id, runs.c.handle).where(
            runs.c.status == PAUSED, runs.c.paused_by == by)).mappings()]


_STATUS = select(runs.c.status).where(_THIS_RUN)
_TRIES = select(runs.c.tries, runs.c.status).where(_THIS_RUN)


def crashed(store: Store, run_id: str, worker: str | None, max_tries: int,
            reason: str) -> str | None:
    """A crawl process of the run died without finishing it: the pages it held go back to
    the frontier and the run is queued again, or ends as an error once it died `max_tries`
    times. Returns the run's status (as it was, when it was not active; None if deleted)."""
    with store.engine.connect() as conn:  # (every run's end comes here: most have ended)
        status = conn.execute(_STATUS, {"b_id": run_id}).scalar()
    if status is None or status in TERMINAL_STATUSES:  # nothing of it is fetched again
        return status
    with store.engine.begin() as conn:
        release_pages(conn, run_id, worker)
        found = conn.execute(_TRIES, {"b_id": run_id}).first()
        if found is None or found.status not in ACTIVE_STATUSES:
            return found.status if found is not None else None
        tries = found.tries + 1
        if tries >= max_tries:
            update_run(conn, run_id, only_if=ACTIVE_STATUSES, status=ERROR, tries=tries,
                       ended_at=time.time(),
                       error=f"{reason} (its crawl process died {tries} times; "
                             f"CRAWLPLANE_MAX_RUN_TRIES is {max_tries})")
            return ERROR
        update_run(conn, run_id, only_if=ACTIVE_STATUSES, status=QUEUED, tries=tries,
                   launcher=None, handle=None)
        return QUEUED


def expire(store: Store, stale_after: float, now: float) -> list[str]:
    """End running runs silent for `stale_after` seconds as errors; returns their ids."""
    last_sign = func.coalesce(runs.c.heartbeat_at, runs.c.started_at, runs.c.queued_at)
    with store.engine.connect() as conn:
        candidates = list(conn.execute(
            select(runs.c.id).where(runs.c.status == RUNNING, last_sign < now - stale_after)
        ).scalars())
    expired = []
    for run_id in candidates:
        with store.engine.begin() as conn:
            if update_run(conn, run_id, only_if=(RUNNING,), status=ERROR, ended_at=now,
                          error=f"the crawl stopped reporting for over {stale_after:g} s "
                                "(its process died or hangs)"):
                expired.append(run_id)
    return expired


def add_progress(conn: Connection, run_id: str, added: dict[str, int] | Any,
                 failures: dict[str, int] | Any) -> None:
    """Add a crawl process's counts to the run's (several processes, or lives, count)."""
    conn.execute(_add_to_run(tuple(added)),
                 {"b_id": run_id, **{f"n_{name}": int(n) for name, n in added.items()}})
    if failures:
        now = conn.execute(_FAILURES, {"b_id": run_id}).scalar() or {}
        merged = dict(now)
        for key, n in failures.items():
            merged[key] = merged.get(key, 0) + n
        set_run(conn, run_id, {"failures": merged})
    set_run(conn, run_id, {"queued": open_pages(conn, run_id)})


_FAILURES = select(runs.c.failures).where(_THIS_RUN)


@functools.lru_cache(maxsize=16)
def _add_to_run(names: tuple[str, ...]) -> Update:
    """Counters of the run increased by bound amounts (`n_<name>`), built once per set."""
    return update(runs).where(_THIS_RUN).values(
        {name: runs.c[name] + bindparam(f"n_{name}", type_=Integer) for name in names})


# -- queries --------------------------------------------------------------------------------

def active_runs(store: Store, launcher: str) -> list[Row]:
    """Active runs a launcher has taken: to watch, or to adopt or settle after a restart."""
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            select(runs).where(runs.c.launcher == launcher,
                               runs.c.status.in_(ACTIVE_STATUSES))).mappings()]


def handle(store: Store, run_id: str) -> str | None:
    with store.engine.connect() as conn:
        value = conn.execute(select(runs.c.handle).where(runs.c.id == run_id)).scalar()
    return str(value) if value else None


def latest_ended(store: Store, task_id: str) -> Row | None:
    """The task's latest run that has ended (the one whose results are served)."""
    with store.engine.connect() as conn:
        run = conn.execute(
            select(runs).where(runs.c.task_id == task_id, runs.c.status.in_(TERMINAL_STATUSES))
            .order_by(runs.c.queued_at.desc()).limit(1)
        ).mappings().first()
    return dict(run) if run else None


def delete_data(store: Store, run_ids: Sequence[str]) -> None:
    """Remove everything the runs produced (pages, attempts, bodies, items); the runs stay."""
    with store.engine.begin() as conn:
        store.delete_run_data(conn, run_ids)


def run_ids(store: Store, task_id: str) -> list[str]:
    with store.engine.connect() as conn:
        return list(conn.execute(select(runs.c.id).where(runs.c.task_id == task_id)).scalars())
