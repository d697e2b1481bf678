"""Per-run statistics from the recorded DownloadInfo (GET /v1/tasks/{id}/stats).

SQL counts every attempt by status code (with bytes and errors); download and wait time
percentiles, retries, redirects and the per-host split are computed in Python over at most
`MAX_ROWS` attempts (the run's first ones; `sampled` says when there were more).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import func, select

from engine.store.tables import download_infos, pages

if TYPE_CHECKING:
    from engine.store.store import Store

Row = dict[str, Any]
MAX_ROWS = 200_000
MAX_HOSTS = 100

_info = download_infos.c.info
STATUS = _info["HttpStatusCode"].as_integer()
DOWNLOAD_TIME = _info["DownloadTimeSec"].as_float()
WAIT_TIME = _info["WaitTimeSec"].as_float()
BYTES = _info["ResponseBytes"].as_integer()
ERROR = _info["Error"].as_string()
URL = _info["Url"].as_string()


def is_redirect(status: int | None) -> bool:
    return status is not None and 300 <= status < 400 and status != 304


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50, p90, p99 (nearest rank) and max of `values`; nulls when there are none."""
    if not values:
        return {"p50": None, "p90": None, "p99": None, "max": None}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return round(ordered[max(0, math.ceil(p * len(ordered)) - 1)], 6)

    return {"p50": rank(0.5), "p90": rank(0.9), "p99": rank(0.99), "max": round(ordered[-1], 6)}


def _group(rows: Iterable[Row]) -> dict[str, Any]:
    """Counts and timings of a set of attempts (ordered by page, then attempt)."""
    statuses: dict[str, int] = defaultdict(int)
    downloads: list[float] = []
    waits: list[float] = []
    attempts = errors = size = retries = redirects = 0
    for row in rows:
        attempts += 1
        status = row["status"]
        statuses[str(status) if status is not None else "none"] += 1
        errors += row["error"] is not None
        size += row["bytes"] or 0
        downloads.append(row["download"] or 0.0)
        waits.append(row["wait"] or 0.0)
        redirects += is_redirect(status)
        retries += row["retry"]
    return {"attempts": attempts, "status_codes": dict(sorted(statuses.items())),
            "errors": errors, "bytes": size, "retries": retries, "redirects": redirects,
            "download_time": percentiles(downloads), "wait_time": percentiles(waits)}


def run_stats(store: Store, run_id: str) -> Row:
    in_run = download_infos.c.page_id.in_(select(pages.c.id).where(pages.c.run_id == run_id)
                                          .scalar_subquery())
    with store.engine.connect() as conn:
        totals = conn.execute(
            select(STATUS.label("status"), func.count().label("n"),
                   func.coalesce(func.sum(BYTES), 0).label("bytes"),
                   func.count(ERROR).label("errors"))
            .where(in_run).group_by(STATUS)).mappings().all()
        attempts = sum(int(t["n"]) for t in totals)
        rows = conn.execute(
            select(download_infos.c.page_id, STATUS.label("status"), URL.label("url"),
                   DOWNLOAD_TIME.label("download"), WAIT_TIME.label("wait"),
                   BYTES.label("bytes"), ERROR.label("error"))
            .where(in_run).order_by(download_infos.c.page_id, download_infos.c.attempt)
            .limit(MAX_ROWS)).mappings().all()
    # An attempt that follows one of the same page that was not a redirect is a retry.
    sampled: list[Row] = []
    previous: Row | None = None
    for mapping in rows:
        row = dict(mapping)
        same_page = previous is not None and previous["page_id"] == row["page_id"]
        retry = same_page and not is_redirect(previous["status"] if previous else None)
        sampled.append({**row, "retry": int(retry)})
        previous = row
    by_host: dict[str, list[Row]] = defaultdict(list)
    for row in sampled:
        by_host[urlsplit(row["url"] or "").netloc.rpartition("@")[2] or "-"].append(row)
    busiest = sorted(by_host.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:MAX_HOSTS]
    overall = _group(sampled)
    overall.update(
        attempts=attempts,
        status_codes={str(t["status"]) if t["status"] is not None else "none": int(t["n"])
                      for t in sorted(totals, key=lambda t: (t["status"] is None,
                                                             t["status"] or 0))},
        errors=sum(int(t["errors"]) for t in totals),
        bytes=sum(int(t["bytes"]) for t in totals))
    return {"run_id": run_id, **overall,
            "pages": len({row["page_id"] for row in sampled}),
            "sampled": attempts > len(sampled),
            "hosts": {host: _group(host_rows) for host, host_rows in busiest}}
