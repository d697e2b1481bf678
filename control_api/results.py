"""Results files: a run's stored items rendered in any of the five formats with Scrapy's
exporters (and Crawlplane's flattened CSV and XLSX), cached in the data directory."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from scrapy.exporters import (
    BaseItemExporter,
    JsonItemExporter,
    JsonLinesItemExporter,
    XmlItemExporter,
)

from engine.exporters import FlatCsvItemExporter, XlsxItemExporter
from engine.flatten import columns
from engine.scheme import FORMATS, Scheme
from engine.store import TERMINAL_STATUSES, Row, Store
from engine.worker import log_path

CONTENT_TYPES = {
    "json": "application/json",
    "jsonl": "application/jsonl",
    "csv": "text/csv; charset=utf-8",
    "xml": "application/xml",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _exporter(fmt: str, file: Any, scheme: Scheme) -> BaseItemExporter:
    if fmt == "json":
        return JsonItemExporter(file, encoding="utf-8", indent=None)
    if fmt == "jsonl":
        return JsonLinesItemExporter(file, encoding="utf-8")
    if fmt == "xml":
        return XmlItemExporter(file, encoding="utf-8", item_element="item", root_element="items")
    if fmt == "csv":
        return FlatCsvItemExporter(file, fields_to_export=columns(scheme))
    if fmt == "xlsx":
        return XlsxItemExporter(file, fields_to_export=columns(scheme))
    raise ValueError(f"unknown format {fmt!r}")


def result_path(data_dir: Path, run_id: str, fmt: str) -> Path:
    return data_dir / "results" / f"{run_id}.{fmt}"


def render(store: Store, data_dir: Path, run_id: str, scheme: Scheme, fmt: str,
           force: bool = False) -> Path:
    """The run's results file in `fmt`, rendered from the store unless already there (or
    again when `force`: the old file stays readable until the new one replaces it)."""
    assert fmt in FORMATS
    path = result_path(data_dir, run_id, fmt)
    if path.exists() and not force:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write to a temporary file and rename, so a reader never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{run_id}.", suffix=f".{fmt}")
    try:
        with os.fdopen(fd, "wb") as file:
            exporter = _exporter(fmt, file, scheme)
            exporter.start_exporting()
            for item in store.iter_items(run_id):
                exporter.export_item(item)
            exporter.finish_exporting()
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path


def file_size(data_dir: Path, run_id: str, fmt: str) -> int | None:
    try:
        return result_path(data_dir, run_id, fmt).stat().st_size
    except FileNotFoundError:
        return None


def remove(data_dir: Path, run_ids: list[str]) -> None:
    """Delete what the runs left in the data directory: their results in every format and
    their crawl logs (a deleted task leaves no trace of what it crawled)."""
    for run_id in run_ids:
        for fmt in FORMATS:
            result_path(data_dir, run_id, fmt).unlink(missing_ok=True)
        log_path(data_dir, run_id).unlink(missing_ok=True)


def render_run(store: Store, data_dir: Path, run_id: str) -> None:
    """A run ended: (re)render the formats its scheme asks for, from what the store now holds."""
    run = store.get_run(run_id)
    task = store.get_task(run["task_id"]) if run else None
    if run is None or task is None:
        # Deleted (or restarted) while its crawl still ran: drop what the crawl wrote since,
        # its log included (the process may have opened it after the delete removed it).
        with store.begin() as conn:
            store.delete_run_data(conn, [run_id])
        remove(data_dir, [run_id])
        return
    scheme = Scheme.model_validate(task["scheme"])
    for fmt in scheme.formats:
        render(store, data_dir, run_id, scheme, fmt, force=True)


def ensure(store: Store, data_dir: Path, rows: list[Row]) -> None:
    """Render the files of task rows (joined with their run) whose run has ended but whose
    files are not there yet: the run's process may still be exiting, and the task object
    promises results with their size as soon as its status says the run ended."""
    for row in rows:
        if row["run_id"] is None or row["run_status"] not in TERMINAL_STATUSES:
            continue
        formats = row["scheme"].get("formats") or ["jsonl"]
        if all(result_path(data_dir, row["run_id"], fmt).exists() for fmt in formats):
            continue
        scheme = Scheme.model_validate(row["scheme"])
        for fmt in scheme.formats:
            render(store, data_dir, row["run_id"], scheme, fmt)
