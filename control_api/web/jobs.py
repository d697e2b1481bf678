"""Interactive jobs and their download tasks, the API's side: the store work is in
`engine.store.jobs`; this adds the API's errors."""

from __future__ import annotations

from control_api.web.errors import NotFound
from engine.store import Row, Store
from engine.store import jobs as job_store
from engine.store.jobs import JOB, crawl, normalize, resume, run_finished, start

__all__ = ["JOB", "DownloadTaskNotFound", "crawl", "download_task", "normalize", "resume",
           "run_finished", "start"]


class DownloadTaskNotFound(NotFound):
    def __init__(self, page_id: str):
        super().__init__(f"download task {page_id} not found")


def download_task(store: Store, tenant_id: str, page_id: str, *, body: bool = False,
                  infos: bool = False) -> Row:
    """A download task of one of the tenant's jobs (404 otherwise), with the status of the
    job's latest run (`run_status`), its cached body (`body`) and attempts (`infos`) if asked."""
    page = job_store.download_task(store, tenant_id, page_id, body=body, infos=infos)
    if page is None:
        raise DownloadTaskNotFound(page_id)
    return page
