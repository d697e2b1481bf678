"""Small runs side by side in a shared crawl process (engine/shared.py): each keeps its own
items, log, cancel, crash recovery and settings, as in a process of its own."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

from control_api.launchers.processes import pid_alive
from tests.shared.conftest import (
    SHARED_RUNS,
    ended_log,
    gen_page,
    handle,
    items,
    most_at_once,
    run_log,
    side_by_side,
    slow_page,
)
from tests.site.fixture import TestSite
from tests.support.server import Server, start_server
from tests.support.wait import wait_until


def test_a_burst_completes_with_each_runs_items_and_log(server: Server, site: TestSite) -> None:
    pages = list(range(120, 132))
    with ThreadPoolExecutor(len(pages)) as pool:
        tasks = list(pool.map(lambda n: server.create(gen_page(site, n)), pages))
    for task, n in zip(tasks, pages, strict=True):
        done = server.wait_status(task["id"], "completed", "error", "cancelled")
        assert done["status"] == "completed" and done["items"] == 1, done
        assert items(server, task["id"]) == [{"title": f"Item {n}"}]
        log = ended_log(server, task["id"], "Spider closed (finished)")
        assert f"/gen/{n}.html" in log
        others = [m for m in pages if m != n]
        assert not [m for m in others if f"/gen/{m}.html" in log], log  # only its own lines
        assert log.count("Spider opened") == 1
    # They shared processes (fewer pids than runs), none with more runs at once than it may
    # take (the store's start and end of a run lie within its crawler's life).
    rows = [server.latest_run(t["id"]) or {} for t in tasks]
    pids = {row["handle"] for row in rows}
    assert len(pids) < len(rows)
    for pid in pids:
        assert most_at_once([row for row in rows if row["handle"] == pid]) <= SHARED_RUNS


def test_cancel_one_of_several_side_by_side_runs(server: Server, site: TestSite) -> None:
    doomed, doomed_path = slow_page(site, 2)
    kept = [slow_page(site, 12) for _ in range(2)]
    tasks = [server.create(doomed)] + [server.create(scheme) for scheme, _ in kept]
    pid = side_by_side(server, site, tasks, [doomed_path] + [path for _, path in kept])
    cancelled = server.ok("POST", f"/v1/tasks/{tasks[0]['id']}/cancel")
    assert cancelled["status"] == "cancelled"
    # Its crawler stops (the stop command: what was in flight finishes) while its neighbours
    # in the same process go on.
    ended_log(server, tasks[0]["id"], "Spider closed (shutdown)")
    for task in tasks[1:]:
        assert server.task(task["id"])["status"] == "running"
    for task in tasks[1:]:
        done = server.wait_status(task["id"], "completed", "error", "cancelled")
        assert done["status"] == "completed" and done["items"] == 1, done
        assert handle(server, task["id"]) == pid
        assert "Spider closed (shutdown)" not in run_log(server, task["id"])
    assert server.task(tasks[0]["id"])["status"] == "cancelled"


def test_pause_one_of_several_side_by_side_runs(server: Server, site: TestSite) -> None:
    paused, paused_path = slow_page(site, 3)
    kept, kept_path = slow_page(site, 3)
    tasks = [server.create(paused), server.create(kept)]
    side_by_side(server, site, tasks, [paused_path, kept_path])
    assert server.ok("POST", f"/v1/tasks/{tasks[0]['id']}/pause")["status"] == "paused"
    done = server.wait_status(tasks[1]["id"], "completed", "error", "cancelled")
    assert done["status"] == "completed" and done["items"] == 1, done
    # The paused run's crawler closed on its own (paused, what was in flight finished), the
    # run stays paused until resumed, then carries on to the end.
    ended_log(server, tasks[0]["id"])
    assert server.task(tasks[0]["id"])["status"] == "paused"
    server.ok("POST", f"/v1/tasks/{tasks[0]['id']}/resume", status=202)
    done = server.wait_status(tasks[0]["id"], "completed", "error", "cancelled")
    assert done["status"] == "completed" and done["items"] == 1, done
    assert items(server, tasks[0]["id"]) == [{"value": "3.0"}]


def test_each_run_keeps_its_own_settings(server: Server, site: TestSite) -> None:
    """Schemes set Scrapy settings per crawler: nothing leaks to a neighbour."""
    runs = [slow_page(site, 1, request={"headers": {"User-Agent": f"agent-{i}",
                                                     "X-Run": str(i)}})
            for i in range(3)]
    tasks = [server.create(scheme) for scheme, _ in runs]
    side_by_side(server, site, tasks, [path for _, path in runs])
    for i, (_, path) in enumerate(runs):
        seen = [e["headers"] for e in site.log("/slow/") if e["path"] == path]
        assert seen and all(h["user-agent"] == [f"agent-{i}"] and h["x-run"] == [str(i)]
                            for h in seen), seen
    for task in tasks:
        assert server.wait_status(task["id"], "completed", "error")["status"] == "completed"


def test_kill_9_of_the_shared_process_mid_burst(server: Server, site: TestSite) -> None:
    runs = [slow_page(site, 2) for _ in range(3)]
    tasks = [server.create(scheme) for scheme, _ in runs]
    pid = side_by_side(server, site, tasks, [path for _, path in runs])
    os.kill(int(pid), signal.SIGKILL)
    wait_until(lambda: not pid_alive(int(pid)), 10, message="the shared process gone")
    for task in tasks:  # each retried, like a crashed run, and done once
        done = server.wait_status(task["id"], "completed", "error", "cancelled", timeout=60)
        assert done["status"] == "completed" and done["items"] == 1, done
        assert len(items(server, task["id"])) == 1
        run = server.latest_run(task["id"])
        assert run is not None and run["tries"] == 1 and str(run["handle"]) != pid


def test_a_new_server_adopts_a_shared_process_left_running(tmp_path: Path,
                                                           site: TestSite) -> None:
    """The server dies (its crawls go on); the next one adopts the shared process by pid, as
    it does a run's own process: its runs end as they would have, not retried."""
    server = start_server(tmp_path / "adopt", CRAWLPLANE_MAX_PROCESSES="1")
    try:
        runs = [slow_page(site, 10) for _ in range(2)]
        tasks = [server.create(scheme) for scheme, _ in runs]
        pid = side_by_side(server, site, tasks, [path for _, path in runs])
        server.kill()
        assert pid_alive(int(pid))
        server.start()  # (well within the pages' 10 s: its recovery finds them running)
        assert {server.task(t["id"])["status"] for t in tasks} == {"running"}
        for task in tasks:
            done = server.wait_status(task["id"], "completed", "error", "cancelled")
            assert done["status"] == "completed" and done["items"] == 1, done
            run = server.latest_run(task["id"])
            assert run is not None and run["tries"] == 0 and str(run["handle"]) == pid
        wait_until(lambda: not pid_alive(int(pid)), 15, message="the shared process to exit")
    finally:
        server.kill_group()


def test_a_stopping_server_pauses_shared_runs_and_the_next_resumes_them(
        tmp_path: Path, site: TestSite) -> None:
    server = start_server(tmp_path / "stop", CRAWLPLANE_MAX_PROCESSES="1")
    try:
        runs = [slow_page(site, 3) for _ in range(2)]
        tasks = [server.create(scheme) for scheme, _ in runs]
        side_by_side(server, site, tasks, [path for _, path in runs])
        server.stop()  # its launcher pauses them: stop commands through the fork server
        assert {(server.latest_run(t["id"]) or {}).get("status") for t in tasks} == {"paused"}
        server.start()
        for task in tasks:
            done = server.wait_status(task["id"], "completed", "error", "cancelled")
            assert done["status"] == "completed" and done["items"] == 1, done
            assert len(items(server, task["id"])) == 1
    finally:
        server.kill_group()


def test_an_idle_shared_process_waits_for_runs_and_takes_a_larger_one_alone(
        server: Server, site: TestSite) -> None:
    """A shared process stays up when its runs are done (the next burst starts at once); a
    run that needs a process of its own takes an idle one as its only run (the server has
    one slot) and writes its whole log there; a small run waits for it to end, then has the
    process again."""
    first = server.create(gen_page(site, 140))
    assert server.wait_status(first["id"], "completed", "error")["status"] == "completed"
    pid = handle(server, first["id"])
    time.sleep(2.5)  # two of the launcher's polls: it is not drained for being idle
    assert pid_alive(int(pid))
    second = server.create(gen_page(site, 141))
    assert server.wait_status(second["id"], "completed", "error")["status"] == "completed"
    assert handle(server, second["id"]) == pid
    large = server.create(gen_page(site, 142, follow=[{"selector": "CSS: li a", "max_depth": 1}],
                                   limits={"max_pages": 3}))
    done = server.wait_status(large["id"], "completed", "error", timeout=30)
    assert done["status"] == "completed" and done["pages"] == 3, done
    assert handle(server, large["id"]) == pid
    log = ended_log(server, large["id"])
    assert "'downloader/response_count': 3," in log, log  # (its stats, at the end)
    slow, _ = slow_page(site, 1.5, follow=[{"selector": "CSS: a", "max_depth": 1}])
    alone = server.create(slow)
    server.wait_status(alone["id"], "running", "completed", "error")
    small = server.create(gen_page(site, 143))  # no room beside it, and no slot: it waits
    small_done = server.wait_status(small["id"], "completed", "error", timeout=30)
    alone_done = server.wait_status(alone["id"], "completed", "error", timeout=30)
    assert small_done["status"] == alone_done["status"] == "completed", (small_done, alone_done)
    assert small_done["started_at"] >= alone_done["ended_at"], (small_done, alone_done)
    assert handle(server, alone["id"]) == handle(server, small["id"]) == pid
    assert pid_alive(int(pid))


def test_a_run_of_several_processes_takes_an_idle_shared_process_slot(
        server: Server, site: TestSite) -> None:
    """A run that may not run in a shared process (`processes` asks for more) takes the slot
    of an idle one, which exits."""
    first = server.create(gen_page(site, 144))
    assert server.wait_status(first["id"], "completed", "error")["status"] == "completed"
    pid = handle(server, first["id"])
    large = server.create(gen_page(site, 145, follow=[{"selector": "CSS: li a", "max_depth": 1}],
                                   limits={"max_pages": 3}, processes=2))
    done = server.wait_status(large["id"], "completed", "error", timeout=30)
    assert done["status"] == "completed" and done["pages"] == 3, done
    assert handle(server, large["id"]) not in ("", pid)
    wait_until(lambda: not pid_alive(int(pid)), 10, message="the idle shared process to exit")


def test_a_cancelled_run_alone_in_a_shared_process_is_killed_when_it_does_not_stop(
        server: Server, site: TestSite) -> None:
    """A run that took a shared process alone, cancelled while its page hangs: after the
    launcher's 10 s its process is killed (it has no neighbours), as a process of the run's
    own would be, not left until the page comes back."""
    first = server.create(gen_page(site, 147))
    assert server.wait_status(first["id"], "completed", "error")["status"] == "completed"
    pid = handle(server, first["id"])
    hang, path = slow_page(site, 40, follow=[{"selector": "CSS: a", "max_depth": 1}])
    task = server.create(hang)
    assert side_by_side(server, site, [task], [path]) == pid  # its page in flight
    assert server.ok("POST", f"/v1/tasks/{task['id']}/cancel")["status"] == "cancelled"
    wait_until(lambda: not pid_alive(int(pid)), 25, message="the process to be killed")
    assert server.task(task["id"])["status"] == "cancelled"


def children(pid: int) -> list[int]:
    """The pids of a process's children (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        with suppress(OSError):
            if entry.name.isdigit() and int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def test_idle_shared_processes_that_die_are_made_again_ever_more_slowly(
        tmp_path: Path) -> None:
    """Idle shared processes that cannot open the store (here: it is newer than the code)
    die as they start: the launcher makes the next ones after 1 s, 2 s, 4 s, ... instead of
    forking new ones as fast as they die, each leaving a log file."""
    from sqlalchemy import create_engine, text

    server = start_server(tmp_path / "data", CRAWLPLANE_SHARED_RUNS=str(SHARED_RUNS))
    try:
        logs = server.data_dir / "logs" / "shared"
        wait_until(lambda: list(logs.glob("*.log")), timeout=15,
                   message="the ready shared processes")
        engine = create_engine(f"sqlite:///{server.data_dir / 'crawlplane.db'}")
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        engine.dispose()
        (fork_server,) = children(server.pid)
        ready = children(fork_server)
        assert ready, "no shared process to kill"
        before = len(list(logs.glob("*.log")))
        for pid in ready:
            os.kill(pid, signal.SIGKILL)
        time.sleep(6)
        made = len(list(logs.glob("*.log"))) - before
        # The first deaths wait 1 s and 2 s, the next ones 4 s and 8 s: in 6 s, two to four
        # new ones (forking them as they died made some 35 a second: 269 in 5 s).
        assert 1 <= made <= 6, made
        log = "\n".join(path.read_text() for path in logs.glob("*.log"))
        assert "newer than this Crawlplane knows" in log, log
    finally:
        server.stop()
