"""How the Scrapyd launcher names a run's jobs and their workers, and reads a node's listing."""

from __future__ import annotations

from control_api.launchers.scrapyd_jobs import WORKER_MAX, job_id, job_worker, listing, run_of
from engine.ids import new_id


def test_every_job_of_a_run_carries_its_id() -> None:
    run = new_id("r")
    jobs = [job_id(run, n) for n in range(1, 5)]
    assert jobs == [run, f"{run}.2", f"{run}.3", f"{run}.4"]
    assert {run_of(j) for j in jobs} == {run}
    assert run_of("0f3c9e3e6b1a11ef9d2a0242ac120002") != run  # a job scheduled by hand


def test_worker_names_tell_nodes_apart_and_fit_the_column() -> None:
    run = new_id("r")
    a, b = job_worker("http://10.0.0.1:6800/", run), job_worker("http://10.0.0.2:6800/", run)
    assert a == f"{run}@10.0.0.1:6800" and a != b
    long = job_worker("http://" + "n" * 120 + ".example:6800/scrapyd/", f"{run}.2")
    assert long.startswith(f"{run}.2@") and len(long) <= WORKER_MAX
    assert long != job_worker("http://" + "n" * 121 + ".example:6800/scrapyd/", f"{run}.2")


def test_a_job_id_listed_twice_is_the_live_one() -> None:
    # A run's job that ended, and its successor of the same id on that node (a resumed run).
    body = {"status": "ok", "pending": [{"id": "r_b"}], "running": [{"id": "r_a"}],
            "finished": [{"id": "r_a"}, {"id": "r_b"}, {"id": "r_c"}]}
    assert listing(body) == {"r_a": "running", "r_b": "pending", "r_c": "finished"}
