"""Run status names, defined once: the store, the recorder and the API all use these.

A task's status is its latest run's, or `initialized` while it has none.
"""

from __future__ import annotations

INITIALIZED = "initialized"  # a task without a run (never a run's status)
QUEUED = "queued"
RUNNING = "running"
COMPLETED = "completed"
CANCELLED = "cancelled"
ERROR = "error"

ACTIVE_STATUSES = (QUEUED, RUNNING)
TERMINAL_STATUSES = (COMPLETED, CANCELLED, ERROR)
# Every status a task shows, in the order the API documents them.
TASK_STATUSES = (INITIALIZED, QUEUED, RUNNING, CANCELLED, COMPLETED, ERROR)
