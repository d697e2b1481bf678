"""Task objects as JSON text, made once per row: a task that has not changed since the API last
showed it is not decoded, viewed and encoded again (a polled listing repeats most of its tasks;
those three steps were about 40% of the server's CPU time per `GET /v1/tasks?take=100`).

Keyed by the task's lean row as the store returned it (engine/store/tasks.py: its JSON values as
text, so the row is hashable) and the base URL of its links: any change to the task or its
latest run makes another key. A running task's object is kept as the text around its `elapsed`
(counted to now, written in when shown): the task polled while it crawls is made once per
change of its row, not once per read (43 µs each, about a tenth of such a read). Not kept: an
ended run's object whose result sizes are not recorded on the run (they are read from the files).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Row as SqlRow

from control_api.web.task_view import view
from engine.store.status import TERMINAL_STATUSES
from engine.store.tasks import decode

MAX_VIEWS = 4096  # about 2 kB each (the row and the object)
# What `json.dumps` writes for a null `elapsed` (inside a JSON string, a quote is escaped: this
# text can only be the key itself).
_NO_ELAPSED = '"elapsed": null'

# A kept object: its whole text, or a running task's text before and after its elapsed time,
# and when its run started.
View = str | tuple[str, float, str]


class TaskViews:
    def __init__(self, data_dir: Path, size: int = MAX_VIEWS):
        self.data_dir = data_dir
        self.size = size
        self.views: dict[tuple[Any, ...], View] = {}

    def json(self, row: SqlRow[Any], base_url: str) -> str:
        """The task object of lean `row`, as JSON text (as `send_json` encodes it)."""
        key = (base_url, *row)
        kept = self.views.get(key)
        if kept is None:
            full = decode(row)
            obj = view(full, base_url, self.data_dir)
            if full["run_status"] in TERMINAL_STATUSES and full["run_result_sizes"] is None:
                return json.dumps(obj, ensure_ascii=False)  # (sizes from the files: not kept)
            kept = _kept(obj, full["run_started_at"], full["run_ended_at"])
            if len(self.views) >= self.size:  # the oldest out (dicts keep insertion order)
                del self.views[next(iter(self.views))]
            self.views[key] = kept
        if isinstance(kept, str):
            return kept
        before, started, after = kept
        # (as `view` counts it, and as `json.dumps` writes a float: its repr)
        return f"{before}{round(time.time() - started, 3)!r}{after}"


def _kept(obj: dict[str, Any], started: float | None, ended: float | None) -> View:
    """The text of task object `obj`, or that around its elapsed time while its run runs."""
    if started is None or ended is not None:
        return json.dumps(obj, ensure_ascii=False)
    obj["elapsed"] = None
    before, _, after = json.dumps(obj, ensure_ascii=False).partition(_NO_ELAPSED)
    return f'{before}"elapsed": ', started, after
