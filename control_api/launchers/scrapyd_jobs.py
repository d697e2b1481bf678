"""A run's Scrapyd jobs: their ids, and the worker name each claims its pages under.

A run's first job is `<run id>` (the run's handle names it); its other crawl processes
(`"processes": N`) are the jobs `<run id>.2` .. `<run id>.N`, so every job of a run carries the
run's id (Scrapyd takes any string as a job id; run ids have no dot). A job claims its pages as
`job_worker(node, job)` (sent as the setting CRAWLPLANE_WORKER): the launcher does not know the
job's host and pid, and needs the name to give back what a gone job held. It names the node
too: a run carried on elsewhere reuses its job ids.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

WORKER_MAX = 100  # the pages.worker column's length


def job_id(run_id: str, number: int) -> str:
    """The run's `number`th job (from 1)."""
    return run_id if number <= 1 else f"{run_id}.{number}"


def run_of(job: str) -> str:
    """The run a job of the launcher belongs to."""
    return job.split(".", 1)[0]


def job_worker(node_url: str, job: str) -> str:
    parts = urlsplit(node_url)
    name = f"{job}@{parts.netloc}{parts.path.rstrip('/')}"
    if len(name) > WORKER_MAX:  # a long node URL: a digest of it
        name = f"{job}@{hashlib.sha1(node_url.encode()).hexdigest()[:16]}"
    return name


def listing(body: dict[str, object]) -> dict[str, str]:
    """Job id -> pending | running | finished from a `listjobs.json` answer. A job id listed
    twice (a run's job that ended, and its successor of the same id on that node) is the live
    one."""
    jobs: dict[str, str] = {}
    for state in ("finished", "pending", "running"):  # later states win
        for job in body.get(state) or []:  # type: ignore[attr-defined]
            if isinstance(job, dict) and "id" in job:
                jobs[str(job["id"])] = state
    return jobs
