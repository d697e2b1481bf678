"""Store reads on the API's hot paths (a task, a listing), coalesced into batches: the reads
asked for while a batch is in the thread pool go together as the next one, one thread-pool hop
and one wake-up of the reactor for all of them.

Why: a store read in a pool thread releases the GIL at every SQLite step, and under load the
reactor thread takes it each time; a read per hop cost about three times the read itself
(`GET /v1/tasks/{id}` 0.33x `GET /health` with a hop each, 0.5x in batches: bench/api.py).
Writes keep their own hops (`offload.in_thread`): a batch runs its reads one after the other,
and a write has no business waiting behind them. `lanes` batches may be in the pool at once:
one on SQLite (measured), more on PostgreSQL, where a read waits on the network and one slow
listing should not hold up every task read behind it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import threads
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

Read = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any], Deferred[Any]]
MAX_BATCH = 32  # reads per batch: a long queue is split, so that none waits for too many
POSTGRES_LANES = 4  # batches in the pool at once on PostgreSQL (of the pool's 10 threads)


class ReadBatches:
    """`await reads(f, *args, **kwargs)`: `f(*args, **kwargs)` in the reactor's thread pool,
    in a batch."""

    def __init__(self, lanes: int = 1, max_batch: int = MAX_BATCH):
        self.lanes = lanes
        self.max_batch = max_batch
        self.waiting: list[Read] = []
        self.running = 0  # batches in the pool

    def __call__(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> Deferred[Any]:
        answer: Deferred[Any] = Deferred()
        self.waiting.append((f, args, kwargs, answer))
        if self.running < self.lanes:
            self._next()
        return answer

    def _next(self) -> None:
        batch, self.waiting = self.waiting[:self.max_batch], self.waiting[self.max_batch:]
        if batch:
            self.running += 1
            threads.deferToThread(_run, batch).addBoth(self._answer, batch)

    def _answer(self, results: list[Any] | Failure, batch: list[Read]) -> None:
        self.running -= 1
        if isinstance(results, Failure):  # (what `_run` does not catch): every read's answer
            results = [results] * len(batch)
        self._next()  # the next batch goes first: the callbacks below may take a while
        for result, (_, _, _, answer) in zip(results, batch, strict=True):
            if isinstance(result, Failure):
                answer.errback(result)
            else:
                answer.callback(result)


def _run(batch: list[Read]) -> list[Any]:
    """In a pool thread: each read's result, or its failure (one read's error is its own).
    A read asked for more than once in the batch (the same function with equal arguments: one
    task, or one listing, polled over several connections) is done once: each was asked before
    the batch ran, and gets the store as it was then."""
    results: list[Any] = []
    done: dict[Any, Any] = {}
    for f, args, kwargs, _ in batch:
        key: Any = (f, args, tuple(sorted(kwargs.items())))
        try:
            hash(key)
        except TypeError:  # arguments that cannot be told apart: done each time
            key = None
        if key is not None and key in done:
            results.append(done[key])
            continue
        try:
            result = f(*args, **kwargs)
        except Exception:
            result = Failure()
        results.append(result)
        if key is not None:
            done[key] = result
    return results
