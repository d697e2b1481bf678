"""Results files: a run's stored items rendered in any of the five formats with the feeds'
exporters (FEED_EXPORTERS in engine/settings.py), cached in the data directory.

Both processes render: the crawl when its run ends (before its final status shows, so the
task object has its files' sizes), the server when it sees a run end and on demand."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from scrapy.exporters import BaseItemExporter
from scrapy.utils.misc import load_object

from engine.flatten import columns
from engine.scheme import Scheme
from engine.scheme_types import FORMATS
from engine.settings import FEED_EXPORTERS
from engine.store import Store, sizes


def _exporter(fmt: str, file: Any, scheme: Scheme) -> BaseItemExporter:
    """The feeds' exporter of `fmt` (FEED_EXPORTERS), so that a file rendered here is the one
    `scrapy crawl -O` writes (nulls in XML, flattened CSV and XLSX)."""
    if fmt not in FEED_EXPORTERS:
        raise ValueError(f"unknown format {fmt!r}")
    kwargs: dict[str, Any] = {"encoding": "utf-8"}
    if fmt == "json":
        kwargs["indent"] = None  # one line, as before
    if fmt in ("csv", "xlsx"):
        kwargs["fields_to_export"] = columns(scheme)  # the scheme's columns, in field order
    exporter: BaseItemExporter = load_object(FEED_EXPORTERS[fmt])(file, **kwargs)
    return exporter


def result_path(data_dir: Path, run_id: str, fmt: str) -> Path:
    return data_dir / "results" / f"{run_id}.{fmt}"


def render(store: Store, data_dir: Path, run_id: str, scheme: Scheme, fmt: str,
           force: bool = False) -> Path:
    """The run's results file in `fmt`, rendered from the store unless already there (or
    again when `force`: the old file stays readable until the new one replaces it); its size
    is recorded on the run."""
    existing = result_path(data_dir, run_id, fmt)
    if existing.exists() and not force:
        return existing
    path = _render(store, data_dir, run_id, scheme, fmt)
    sizes.record(store, run_id, {fmt: path.stat().st_size})
    return path


def _render(store: Store, data_dir: Path, run_id: str, scheme: Scheme, fmt: str) -> Path:
    assert fmt in FORMATS
    path = result_path(data_dir, run_id, fmt)
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


def render_all(store: Store, data_dir: Path, run_id: str, scheme: Scheme) -> None:
    """Every format the scheme asks for, rendered again from what the store now holds (their
    sizes recorded on the run in one write)."""
    sizes.record(store, run_id, render_files(store, data_dir, run_id, scheme))


def render_files(store: Store, data_dir: Path, run_id: str, scheme: Scheme) -> dict[str, int]:
    """`render_all` without the write: the sizes, for the caller's own write (a crawl records
    them with the run's final status)."""
    paths = {fmt: _render(store, data_dir, run_id, scheme, fmt) for fmt in scheme.formats}
    return {fmt: path.stat().st_size for fmt, path in paths.items()}
