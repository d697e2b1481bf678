"""Task objects as JSON text, made once per row: a task that has not changed since the API last
showed it is not decoded, viewed and encoded again (a polled listing repeats most of its tasks;
those three steps were about 40% of the server's CPU time per `GET /v1/tasks?take=100`).

Keyed by the task's lean row as the store returned it (engine/store/tasks.py: its JSON values as
text, so the row is hashable) and the base URL of its links: any change to the task or its
latest run makes another key. Only objects that depend on nothing else are kept: not a started
run's that has not ended (its `elapsed` is counted to now), nor an ended run's whose result
sizes are not recorded on the run (they are read from the files).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Row as SqlRow

from control_api.web.task_view import view
from engine.store import Row
from engine.store.status import TERMINAL_STATUSES
from engine.store.tasks import decode

MAX_VIEWS = 4096  # about 2 kB each (the row and the object)


class TaskViews:
    def __init__(self, data_dir: Path, size: int = MAX_VIEWS):
        self.data_dir = data_dir
        self.size = size
        self.views: dict[tuple[Any, ...], str] = {}

    def json(self, row: SqlRow[Any], base_url: str) -> str:
        """The task object of lean `row`, as JSON text (as `send_json` encodes it)."""
        key = (base_url, *row)
        text = self.views.get(key)
        if text is not None:
            return text
        full = decode(row)
        text = json.dumps(view(full, base_url, self.data_dir), ensure_ascii=False)
        if _fixed(full):
            if len(self.views) >= self.size:  # the oldest out (dicts keep insertion order)
                del self.views[next(iter(self.views))]
            self.views[key] = text
        return text


def _fixed(row: Row) -> bool:
    """Whether the row's task object depends on the row alone."""
    if row["run_started_at"] is not None and row["run_ended_at"] is None:
        return False
    return row["run_status"] not in TERMINAL_STATUSES or row["run_result_sizes"] is not None
