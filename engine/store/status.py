"""Run status and page state names, defined once: the store, the crawl and the API use these.

A task's status is its latest run's, or `initialized` while it has none.
"""

from __future__ import annotations

INITIALIZED = "initialized"  # a task without a run (never a run's status)
QUEUED = "queued"
RUNNING = "running"
PAUSED = "paused"  # its frontier is kept; `resume` queues it again
COMPLETED = "completed"
CANCELLED = "cancelled"
ERROR = "error"

ACTIVE_STATUSES = (QUEUED, RUNNING)
TERMINAL_STATUSES = (COMPLETED, CANCELLED, ERROR)
# Every status a task shows, in the order the API documents them.
TASK_STATUSES = (INITIALIZED, QUEUED, RUNNING, PAUSED, CANCELLED, COMPLETED, ERROR)

# Download-task (page) states, spelled as the Web Data Source API does.
CREATED = "Created"
IN_PROGRESS = "InProgress"
HANDLED = "Handled"
ROBOTS_DENIED = "AccessDeniedForRobots"
GATES_EXHAUSTED = "AllRequestGatesExhausted"
DELETED = "Deleted"
STATES = (CREATED, IN_PROGRESS, HANDLED, ROBOTS_DENIED, GATES_EXHAUSTED, DELETED)
