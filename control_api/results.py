"""Results files, the server's side: content types, removal, and rendering when a run ends
(the rendering itself is `engine.results`, which the crawl process uses too)."""

from __future__ import annotations

from pathlib import Path

from engine.results import file_size, render, render_all, result_path
from engine.scheme import Scheme
from engine.scheme_types import FORMATS
from engine.store import Row, Store, runs
from engine.worker import log_path

__all__ = ["CONTENT_TYPES", "file_size", "remove", "render", "render_run", "result_path"]

CONTENT_TYPES = {
    "json": "application/json",
    "jsonl": "application/jsonl",
    "csv": "text/csv; charset=utf-8",
    "xml": "application/xml",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def remove(data_dir: Path, run_ids: list[str]) -> None:
    """Delete what the runs left in the data directory: their results in every format and
    their crawl logs (a deleted task leaves no trace of what it crawled)."""
    for run_id in run_ids:
        for fmt in FORMATS:
            result_path(data_dir, run_id, fmt).unlink(missing_ok=True)
        log_path(data_dir, run_id).unlink(missing_ok=True)


def render_run(store: Store, data_dir: Path, run_id: str) -> Row | None:
    """A run ended: render the formats its scheme asks for, from what the store now holds,
    unless its crawl has rendered them all (it does as it closes, after its last write).
    Returns the run's task (None when gone), for what else follows a run's end."""
    run = store.get_run(run_id)
    task = store.get_task(run["task_id"]) if run else None
    if run is None or task is None:
        # Deleted (or restarted) while its crawl still ran: drop what the crawl wrote since,
        # its log included (the process may have opened it after the delete removed it).
        runs.delete_data(store, [run_id])
        remove(data_dir, [run_id])
        return None
    scheme = Scheme.model_validate(task["scheme"])
    if not set(scheme.formats) <= set(run.get("result_sizes") or ()):
        # (else its crawl rendered them as it closed, after its last write: not twice)
        render_all(store, data_dir, run_id, scheme)
    return task
