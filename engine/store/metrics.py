"""Store-wide aggregates for GET /metrics (control_api/web/metrics.py): a few aggregate queries
whose answers are the same whichever server, crawl process or node wrote the rows.

Counters are computed from rows that stay until their task is deleted: deleting tasks lowers
them, which Prometheus reads as a counter reset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, select

from engine.store.stats import BYTES, DOWNLOAD_TIME, STATUS
from engine.store.status import ACTIVE_STATUSES, QUEUED, ROBOTS_DENIED, TERMINAL_STATUSES
from engine.store.tables import deliveries, download_infos, pages, runs

if TYPE_CHECKING:
    from engine.store.store import Store

# Download latency histogram bucket bounds (seconds).
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
DELIVERY_OUTCOMES = ("delivered", "failed", "retried")


def aggregates(store: Store) -> dict[str, Any]:
    with store.engine.connect() as conn:
        by_status = {r.status: int(r.n) for r in conn.execute(
            select(runs.c.status, func.count().label("n")).group_by(runs.c.status))}
        started = int(conn.execute(select(func.count()).where(
            runs.c.started_at.is_not(None))).scalar_one())
        ended = {r.status: int(r.n) for r in conn.execute(
            select(runs.c.status, func.count().label("n"))
            .where(runs.c.status.in_(TERMINAL_STATUSES), runs.c.ended_at.is_not(None))
            .group_by(runs.c.status))}
        sums = conn.execute(select(
            func.coalesce(func.sum(runs.c.pages), 0), func.coalesce(func.sum(runs.c.failed), 0),
            func.coalesce(func.sum(runs.c["items"]), 0))).one()
        responses = {r.status: int(r.n) for r in conn.execute(
            select(STATUS.label("status"), func.count().label("n")).group_by(STATUS))}
        latency = conn.execute(select(
            func.count(), func.coalesce(func.sum(DOWNLOAD_TIME), 0.0),
            func.coalesce(func.sum(BYTES), 0),
            func.count(func.distinct(download_infos.c.page_id)),
            *(func.coalesce(func.sum(case((DOWNLOAD_TIME <= bound, 1), else_=0)), 0)
              for bound in LATENCY_BUCKETS))).one()
        robots = int(conn.execute(select(func.count()).where(
            pages.c.state == ROBOTS_DENIED)).scalar_one())
        webhooks = [(r.kind, r.state, int(r.n)) for r in conn.execute(
            select(deliveries.c.kind, deliveries.c.state, func.count().label("n"))
            .where(deliveries.c.state.in_(DELIVERY_OUTCOMES))
            .group_by(deliveries.c.kind, deliveries.c.state))]
        queue_depth = int(conn.execute(select(func.count()).where(
            runs.c.status == QUEUED, runs.c.launcher.is_(None))).scalar_one())
        in_use = int(conn.execute(select(func.count()).where(
            runs.c.status.in_(ACTIVE_STATUSES), runs.c.launcher.is_not(None))).scalar_one())
    attempts = int(latency[0])
    redirects = sum(n for status, n in responses.items()
                    if status is not None and 300 <= status < 400 and status != 304)
    classes: dict[str, int] = {}
    for status, n in responses.items():
        label = f"{status // 100}xx" if status is not None and 100 <= status < 600 else "none"
        classes[label] = classes.get(label, 0) + n
    return {
        "runs_by_status": by_status, "runs_started": started, "runs_ended": ended,
        "pages": int(sums[0]), "pages_failed": int(sums[1]), "items": int(sums[2]),
        "responses": classes, "attempts": attempts,
        "latency_sum": float(latency[1]), "bytes": int(latency[2]),
        "latency_buckets": [(bound, int(n)) for bound, n in zip(LATENCY_BUCKETS, latency[4:],
                                                               strict=True)],
        # An attempt beyond a page's first that is not a redirect hop was a retry.
        "retries": max(0, attempts - int(latency[3]) - redirects),
        "redirects": redirects, "robots_refusals": robots, "webhook_deliveries": webhooks,
        "queue_depth": queue_depth, "slots_in_use": in_use,
    }
