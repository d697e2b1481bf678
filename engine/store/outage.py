"""Errors that say the store could not be reached or stayed busy, as against errors of a
statement: the first are worth a retry and one line in a log (an outage would otherwise write a
traceback on every poll and every request), the others are bugs.

    unavailable   PostgreSQL's operational errors (a dropped or refused connection, a database
                  away), the pool's timeout, SQLite's lock after its busy timeout
    log_failure   a Twisted Failure of a store step, logged as one of the two
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# SQLite's errors of availability; its other OperationalErrors ("no such table") are bugs.
SQLITE_UNAVAILABLE = ("database is locked", "unable to open database", "disk I/O error")


def unavailable(error: BaseException | None) -> bool:
    """Whether `error` says the store could not be reached or stayed busy."""
    if isinstance(error, PoolTimeout):
        return True
    if not isinstance(error, OperationalError):
        return False
    if type(error.orig).__module__.startswith("sqlite3"):
        return any(text in str(error.orig) for text in SQLITE_UNAVAILABLE)
    return True


def summary(error: BaseException | None) -> str:
    """The error's first line (SQLAlchemy's go on with the statement and its parameters)."""
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def log_failure(logger: logging.Logger, what: str, failure: Any) -> None:
    """An errback's log line for a failed store step (`failure`: a Twisted Failure)."""
    if unavailable(failure.value):
        logger.warning("%s: the store is unavailable: %s", what, summary(failure.value))
    else:
        logger.error("%s: %s", what, failure.getTraceback())
