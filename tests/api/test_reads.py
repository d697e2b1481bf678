"""The hot paths' store reads in batches (control_api/web/reads.py), in-process on the reactor
(pytest-twisted): reads asked for while a batch is in the pool go together, each caller gets
its own answer or its own error, and a long queue is split."""

from __future__ import annotations

import threading

import pytest
import pytest_twisted
from twisted.internet import defer

from control_api.web.reads import ReadBatches

pytestmark = pytest.mark.timeout(60)


@pytest_twisted.ensureDeferred
async def test_reads_asked_meanwhile_go_together_each_with_its_own_answer() -> None:
    reads = ReadBatches()
    gate = threading.Event()
    ran: dict[int, list[int]] = {}  # the reads each pool thread ran, in order

    def read(n: int) -> int:
        if n == 0:
            gate.wait(10)  # the first batch holds the pool while the others are asked for
        ran.setdefault(threading.get_ident(), []).append(n)
        if n == 3:
            raise KeyError("no such task")
        return n * 10

    first = reads(read, 0)
    rest = [reads(read, n) for n in range(1, 6)]
    assert reads.running == 1 and len(reads.waiting) == 5  # none went to the pool on its own
    gate.set()
    assert await first == 0
    answers = await defer.DeferredList(rest, consumeErrors=True)
    assert [ok for ok, _ in answers] == [True, True, False, True, True]
    assert [value for ok, value in answers if ok] == [10, 20, 40, 50]
    assert answers[2][1].check(KeyError)  # the failing read's own error, for its caller only
    # The five asked meanwhile ran as one batch: in one pool thread, one after the other.
    assert any(calls[i:i + 5] == [1, 2, 3, 4, 5] for calls in ran.values()
               for i in range(len(calls)))
    assert not reads.running and not reads.waiting


@pytest_twisted.ensureDeferred
async def test_a_long_queue_is_split_into_bounded_batches() -> None:
    sizes: list[int] = []  # each batch's size, as it goes to the pool

    class Counted(ReadBatches):
        def _next(self) -> None:
            sizes.append(min(len(self.waiting), self.max_batch))
            super()._next()

    reads = Counted(max_batch=4)
    gate = threading.Event()
    first = reads(gate.wait, 10)
    others = [reads(lambda n: n, n) for n in range(10)]
    gate.set()
    assert await first is True
    assert await defer.gatherResults(others) == list(range(10))
    assert sizes[:4] == [1, 4, 4, 2]  # the first alone, then the 10 asked meanwhile, by 4


@pytest_twisted.ensureDeferred
async def test_with_two_lanes_a_slow_batch_does_not_hold_up_the_next() -> None:
    reads = ReadBatches(lanes=2)
    gate = threading.Event()
    slow = reads(gate.wait, 10)  # holds one lane
    assert await reads(lambda: "fast") == "fast"  # the other lane answers meanwhile
    assert not slow.called
    gate.set()
    assert await slow is True
    assert reads.running == 0


class Abort(BaseException):
    """What a read's `except Exception` does not catch."""


@pytest_twisted.ensureDeferred
async def test_a_read_that_escapes_its_batch_fails_its_batch_and_frees_the_lane() -> None:
    reads = ReadBatches()

    def escape() -> None:
        raise Abort()

    answers = await defer.DeferredList([reads(escape), reads(escape)], consumeErrors=True)
    assert all(not ok and failure.check(Abort) for ok, failure in answers)
    assert reads.running == 0
    assert await reads(lambda: "next") == "next"  # the lane is free again


@pytest_twisted.ensureDeferred
async def test_the_same_read_asked_twice_in_a_batch_is_done_once() -> None:
    reads = ReadBatches()
    gate = threading.Event()
    calls: list[str] = []

    def read(task_id: str) -> str:
        calls.append(task_id)
        return f"row of {task_id}"

    def count(rows: list[int]) -> int:
        calls.append("count")
        return len(rows)

    def listing(tenant: str, *, take: int, status: str | None) -> str:
        calls.append(f"{tenant} {take} {status}")
        return f"{take} {status} tasks of {tenant}"

    first = reads(gate.wait, 10)  # holds the pool while the next batch gathers
    polls = [reads(read, "t1"), reads(read, "t2"), reads(read, "t1"), reads(read, "t1")]
    unhashable = [reads(count, [1, 2]), reads(count, [1, 2])]
    listings = [reads(listing, "a", take=100, status=None),
                reads(listing, "a", status=None, take=100),  # the same, keywords reordered
                reads(listing, "a", take=100, status="running")]
    gate.set()
    await first
    assert await defer.gatherResults(polls) == ["row of t1", "row of t2", "row of t1",
                                                "row of t1"]
    assert await defer.gatherResults(unhashable) == [2, 2]
    assert await defer.gatherResults(listings) == ["100 None tasks of a"] * 2 + [
        "100 running tasks of a"]
    # t1 read once for its three callers, the same listing once for its two; arguments that
    # cannot be keyed, each time.
    assert sorted(calls) == ["a 100 None", "a 100 running", "count", "count", "t1", "t2"]
