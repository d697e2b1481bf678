"""Interactive jobs and their download tasks, the API's side (synchronous; the API runs these
in its thread pool). A job is a task of kind "job" named after the job; its download tasks are
its pages, created here in state Created and downloaded by the job's crawl process
(engine/frontier/jobs.py: they are its frontier, claimed through `engine.store.frontier`)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from w3lib.url import safe_url_string

from engine.ids import new_id
from engine.scheme import Scheme
from engine.store import jobpages
from engine.store import runs as run_states
from engine.store.status import ACTIVE_STATUSES, COMPLETED, CREATED, DELETED
from engine.store.tables import download_infos, page_bodies, pages, runs, tasks

if TYPE_CHECKING:
    from engine.store.store import Store

Row = dict[str, Any]
JOB = "job"
CHUNK = 500  # ids or URLs per IN (...) clause


def normalize(url: str) -> str:
    """The form a download task's URL is stored and compared in (as Scrapy requests it)."""
    return str(safe_url_string(urldefrag(url.strip())[0]))


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(values), CHUNK):
        yield values[i:i + CHUNK]


def _lock(conn: Connection, task_id: str) -> None:
    """Write first, so that the transaction holds the store's write lock from here on (SQLite
    cannot upgrade a read transaction once another writer committed)."""
    conn.execute(update(tasks).where(tasks.c.id == task_id).values(updated_at=time.time()))


def _active_run(conn: Connection, task_id: str) -> Row | None:
    row = conn.execute(
        select(runs).join(tasks, tasks.c.run_id == runs.c.id)
        .where(tasks.c.id == task_id, runs.c.status.in_(ACTIVE_STATUSES))
    ).mappings().first()
    return dict(row) if row else None


def _ensure_run(conn: Connection, task_id: str) -> tuple[Row, bool]:
    """The job's active run, or a newly queued one (True: the launcher must be kicked)."""
    run = _active_run(conn, task_id)
    if run is not None:
        return run, False
    return run_states.queue(conn, task_id), True


def add_pages(conn: Connection, task_id: str, run_id: str, urls: Iterable[str],
              parent_id: str | None, depth: int) -> tuple[list[dict[str, str]], int]:
    """Download tasks for the URLs, in order, without duplicates: a URL the job has already
    is its existing task. Returns [{"Id", "Url"}] and how many were created."""
    wanted = list(dict.fromkeys(normalize(u) for u in urls))
    known: dict[str, str] = {}
    for chunk in _chunks(wanted):
        for row in conn.execute(
            select(pages.c.id, pages.c.url)
            .where(pages.c.task_id == task_id, pages.c.url.in_(chunk), pages.c.state != DELETED)
            .order_by(pages.c.id)
        ):
            known.setdefault(row.url, row.id)
    now = time.time()
    new_rows: list[Row] = []
    for url in wanted:
        if url not in known:
            known[url] = new_id("p")
            # a microsecond apart: the job's crawl takes them in the order the client got them
            created = now + len(new_rows) / 1e6
            new_rows.append({"id": known[url], "task_id": task_id, "run_id": run_id,
                             "url": url, "state": CREATED, "depth": depth,
                             "parent_id": parent_id, "created_at": created,
                             "updated_at": created})
    if new_rows:
        conn.execute(insert(pages), new_rows)
    return [{"Id": known[url], "Url": url} for url in wanted], len(new_rows)


def start(store: Store, tenant_id: str, name: str, scheme: Scheme,
          from_scratch: bool) -> tuple[list[dict[str, str]], Row | None, Row]:
    """Create or update the job named `name`, restart it and queue its start URLs.

    Continue keeps the job's pages and cache: every page is downloaded again, conditionally
    when its body is cached. FromScratch marks the earlier pages Deleted and drops their
    attempts and bodies (tombstones of the restart before are removed). A run of an earlier
    configuration is cancelled; it is returned so that its process can be stopped, with the
    run that downloads the start URLs."""
    config = scheme.model_dump(mode="json")
    with store.engine.connect() as conn:
        job = conn.execute(
            select(tasks.c.id).where(tasks.c.tenant_id == tenant_id, tasks.c.kind == JOB,
                                     tasks.c.name == name)
            .order_by(tasks.c.created_at.desc()).limit(1)
        ).first()
    if job is None:
        created, _ = store.create_task(tenant_id, config, scheme.payload_id, run=False,
                                       kind=JOB, name=name)
        task_id = str(created["id"])
    else:
        task_id = str(job.id)
    with store.engine.begin() as conn:
        _lock(conn, task_id)
        stopped = _restart(conn, task_id, scheme, from_scratch)
        run, _ = _ensure_run(conn, task_id)
        created_tasks, _ = add_pages(conn, task_id, run["id"], scheme.start_urls, None, 0)
    return created_tasks, stopped, run


def _restart(conn: Connection, task_id: str, scheme: Scheme, from_scratch: bool) -> Row | None:
    old = conn.execute(select(tasks.c.payload_id).where(tasks.c.id == task_id)).scalar_one()
    dumped = scheme.model_dump(mode="json")
    conn.execute(update(tasks).where(tasks.c.id == task_id).values(
        scheme=dumped, formats=dumped["formats"], payload_id=scheme.payload_id))
    stopped = None
    run = _active_run(conn, task_id)
    if run is not None and old != scheme.payload_id:  # its process runs the old settings
        run_states.cancel(conn, run["id"])
        stopped = run
    if from_scratch:
        _drop(conn, select(pages.c.id).where(pages.c.task_id == task_id,
                                             pages.c.state == DELETED))
        conn.execute(delete(pages).where(pages.c.task_id == task_id, pages.c.state == DELETED))
        _drop(conn, select(pages.c.id).where(pages.c.task_id == task_id))
        conn.execute(update(pages).where(pages.c.task_id == task_id)
                     .values(state=DELETED, updated_at=time.time()))
    else:
        conn.execute(update(pages).where(pages.c.task_id == task_id, pages.c.state != DELETED)
                     .values(state=CREATED, updated_at=time.time()))
    return stopped


def _drop(conn: Connection, page_ids: Any) -> None:
    """The attempts and cached bodies of the selected pages."""
    ids = page_ids.scalar_subquery()
    conn.execute(delete(download_infos).where(download_infos.c.page_id.in_(ids)))
    conn.execute(delete(page_bodies).where(page_bodies.c.page_id.in_(ids)))


def crawl(store: Store, page: Row, urls: list[str]) -> tuple[list[dict[str, str]], Row | None]:
    """The links of a page as download tasks of its job, and the run that downloads the new
    ones (None when there are none): the active run, or one queued now."""
    with store.engine.begin() as conn:
        _lock(conn, page["task_id"])
        run = _active_run(conn, page["task_id"])
        run_id = str(run["id"]) if run is not None else str(page["run_id"])
        found, created = add_pages(conn, page["task_id"], run_id, urls, page["id"],
                                   page["depth"] + 1)
        if not created:
            return found, None
        if run is None:  # (a page's run is the one that downloads it, once claimed)
            run, _ = _ensure_run(conn, page["task_id"])
    return found, run


def resume(store: Store, task_id: str) -> bool:
    """A run for a job whose pages wait while none is active (its crawl failed or was
    cancelled); True when one was queued."""
    with store.engine.begin() as conn:
        _lock(conn, task_id)
        return _ensure_run(conn, task_id)[1]


def download_task(store: Store, tenant_id: str, page_id: str, *, body: bool = False,
                  infos: bool = False) -> Row | None:
    """A download task of one of the tenant's jobs (None otherwise), with the status of the
    job's latest run (`run_status`), its cached body (`body`: the page_bodies row or None)
    and its attempts (`infos`) when asked."""
    with store.engine.connect() as conn:
        row = conn.execute(
            select(pages, runs.c.status.label("run_status"))
            .join(tasks, tasks.c.id == pages.c.task_id)
            .join(runs, runs.c.id == tasks.c.run_id, isouter=True)
            .where(pages.c.id == page_id, tasks.c.tenant_id == tenant_id)
        ).mappings().first()
        if row is None:
            return None
        page = dict(row)
        if body:
            cached = conn.execute(
                select(page_bodies).where(page_bodies.c.page_id == page_id)
            ).mappings().first()
            page["body"] = dict(cached) if cached else None
        if infos:
            page["infos"] = list(conn.execute(
                select(download_infos.c.info).where(download_infos.c.page_id == page_id)
                .order_by(download_infos.c.attempt)
            ).scalars())
    return page


def run_finished(store: Store, run_id: str) -> bool:
    """After a job's run is over: pages it left InProgress are Created again, and when its
    crawl simply went idle while work was arriving, a new run is queued (True)."""
    run = store.get_run(run_id)
    task = store.get_task(run["task_id"]) if run else None
    if run is None or task is None or task["kind"] != JOB:
        return False
    with store.engine.begin() as conn:
        _lock(conn, task["id"])
        jobpages.release_orphans(conn, task["id"], run_id)
        waiting = conn.execute(
            select(pages.c.id).where(pages.c.task_id == task["id"], pages.c.state == CREATED)
            .limit(1)
        ).first()
        latest = conn.execute(select(tasks.c.run_id).where(tasks.c.id == task["id"])
                              ).scalar_one()
        if waiting is None or latest != run_id or run["status"] != COMPLETED:
            return False
        run_states.queue(conn, task["id"])
    return True
