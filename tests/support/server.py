"""The one server wrapper of the tests: `crawlplane serve` as a child process on 127.0.0.1:0.

One environment builder (`server_env`), the listening line read from its stdout (`read_line`),
keys made with the real CLI, stop / kill / restart on the same data directory, and the server's
stderr log (`log()`, `log_since_start()`) for tests that check which path a restart took.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from control_api.launchers.processes import pid_alive
from tests.support.client import DEFAULT, Client, Response
from tests.support.wait import wait_until

CRAWLPLANE = str(Path(sys.executable).with_name("crawlplane"))
LISTENING = "Crawlplane listening on "
START_TIMEOUT = 60.0


def read_line(stream: IO[str], prefix: str = LISTENING, timeout: float = START_TIMEOUT) -> str:
    """The rest of the first line of `stream` that starts with `prefix` (e.g. the server's URL).

    A thread keeps draining the stream afterwards, so the child never blocks on a full pipe.
    """
    lines: queue.Queue[str] = queue.Queue()

    def reader() -> None:
        for line in stream:
            lines.put(line)
        lines.put("")

    threading.Thread(target=reader, daemon=True).start()
    deadline = time.monotonic() + timeout
    while True:
        line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        if not line:
            raise RuntimeError("the server exited before it listened")
        if line.startswith(prefix):
            return line[len(prefix):].strip().rstrip("/")


def server_env(data_dir: Path, *, allow_private: bool = True, **extra: str) -> dict[str, str]:
    """This environment without Crawlplane's or Scrapy's settings (each test states its own),
    the data directory, any free loopback port, and private crawl targets allowed (the test
    site is on loopback) unless `allow_private` is false."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRAWLPLANE_", "SCRAPY"))}
    env.update(CRAWLPLANE_DATA_DIR=str(data_dir), CRAWLPLANE_LISTEN="127.0.0.1:0")
    if allow_private:
        env["CRAWLPLANE_ALLOW_PRIVATE_TARGETS"] = "1"
    env.update(extra)
    return env


class Server:
    """A `crawlplane serve` over `data_dir`; restartable on the same store (new port).

    `keys` maps names (tenants) to API keys made with `create_key`; the first one made is the
    default key of `call`, `ok`, `create`, `task` and `wait` unless `key=` says otherwise.
    """

    def __init__(self, data_dir: Path, *, allow_private: bool = True, **env: str) -> None:
        self.data_dir = data_dir
        self.env = server_env(data_dir, allow_private=allow_private, **env)
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.keys: dict[str, str] = {}
        self.spec: dict[str, Any] | None = None
        self.http = Client("", keys=self.keys)
        self.log_path = data_dir / "server.log"
        self._log_offset = 0  # where the current process's part of the log begins

    # -- the process --------------------------------------------------------------------------

    def start(self) -> Server:
        """Start a new process (again, after `stop` or `kill`); its URL, then its spec."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "a")  # noqa: SIM115 (the child keeps it open)
        self.proc = subprocess.Popen([CRAWLPLANE, "serve"], env=self.env, text=True,
                                     stdout=subprocess.PIPE, stderr=log,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        assert self.proc.stdout is not None
        try:
            self.url = read_line(self.proc.stdout)
        except BaseException:
            self.kill()
            raise AssertionError(f"the server did not start:\n{self.log_since_start()[-3000:]}"
                                 ) from None
        self.http.url = self.url
        self.spec = self.http.ok("GET", "/openapi.json", key=None)
        self.http.spec = self.spec
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the server process only (a crash by default: no chance to tidy up) and wait
        for it; the crawl processes it started go on."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill_group(self) -> None:
        """SIGKILL the server and every crawl process it started (its process group)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        """A clean shutdown (SIGTERM), SIGKILL if it takes longer than 15 s."""
        self.kill(signal.SIGTERM)

    def restart(self) -> Server:
        self.stop()
        return self.start()

    def log(self) -> str:
        """Everything the server processes over this data directory wrote to stderr."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_since_start(self) -> str:
        """What the current (latest started) process wrote to stderr."""
        with open(self.log_path, "rb") as log:
            log.seek(self._log_offset)
            return log.read().decode("utf-8", "replace")

    def wait_log(self, text: str, timeout: float = 15) -> str:
        """Wait until the current process has logged `text`; its log so far."""
        return wait_until(lambda: self.log_since_start() if text in self.log_since_start()
                          else None, timeout, 0.1, lambda: f"the server to log {text!r}:\n"
                          + self.log_since_start()[-3000:])

    # -- the CLI ------------------------------------------------------------------------------

    def cli(self, *args: str, check: bool = True,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([CRAWLPLANE, *args], env=env or self.env, capture_output=True,
                              text=True, check=check, timeout=120)

    def create_key(self, name: str, tenant: str | None = None) -> str:
        """A new key made with `crawlplane keys create` (it prints the key last)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        out = self.cli("keys", "create", name, *(["--tenant", tenant] if tenant else []))
        key = out.stdout.strip().splitlines()[-1].strip()
        self.keys[tenant or name] = key
        if self.http.key is None:
            self.http.key = tenant or name
        return key

    def client(self, name: str) -> Client:
        """A client with a new key of its own (`/v1` and `/api/v2` helpers)."""
        return Client(self.url, self.create_key(name), spec=self.spec)

    # -- HTTP with the server's keys (see Client) ---------------------------------------------

    def call(self, method: str, path: str, body: Any = None,
             params: dict[str, str] | None = None, **kwargs: Any) -> Response:
        return self.http.call(method, path, body, params, **kwargs)

    def ok(self, method: str, path: str, body: Any = None, status: int = 200,
           **kwargs: Any) -> Any:
        return self.http.ok(method, path, body, status, **kwargs)

    def create(self, scheme: dict[str, Any], key: Any = DEFAULT, **fields: Any) -> Any:
        return self.http.create(scheme, key, **fields)

    def task(self, task_id: str, key: Any = DEFAULT) -> dict[str, Any]:
        return self.http.task(task_id, key)

    def wait(self, task_id: str, until: Any = None, timeout: float = 60,
             key: Any = DEFAULT) -> dict[str, Any]:
        """Poll the task until `until(task)` (default: a terminal status); on a timeout the
        message ends with the tail of the server's log."""
        return self.http.wait(task_id, until, timeout, key, self._log_tail)

    def wait_status(self, task_id: str, *statuses: str, timeout: float = 60,
                    key: Any = DEFAULT) -> dict[str, Any]:
        return self.http.wait_status(task_id, *statuses, timeout=timeout, key=key,
                                     detail=self._log_tail)

    def deliveries(self, task_id: str, key: Any = DEFAULT) -> list[dict[str, Any]]:
        return self.http.deliveries(task_id, key)

    def wait_deliveries(self, task_id: str, done: Any, timeout: float = 60,
                        key: Any = DEFAULT) -> list[dict[str, Any]]:
        """Poll the task's delivery log until `done(rows)` holds; the rows."""
        return self.http.wait_deliveries(task_id, done, timeout, key)

    # -- the store, as the crawl processes see it ---------------------------------------------

    def latest_run(self, task_id: str) -> dict[str, Any] | None:
        """The task's latest run row, read straight from the server's store."""
        from engine.store import Store, store_url

        store = Store(store_url(self.env.get("CRAWLPLANE_STORE_URL", ""), self.data_dir))
        try:
            task = store.get_task(task_id)
            run = store.get_run(task["run_id"]) if task and task["run_id"] else None
        finally:
            store.close()
        return dict(run) if run else None

    def crawl_pid(self, task_id: str, timeout: float = 30) -> int:
        """The pid of the local crawl process of the task's latest run (its launcher handle)."""
        def handle() -> str | None:
            run = self.latest_run(task_id)
            return str(run["handle"]) if run and run["handle"] else None

        return int(wait_until(handle, timeout, 0.05, f"task {task_id}'s run to have a process"))

    def _log_tail(self) -> str:
        return "\n" + self.log()[-3000:]


def wait_gone(pid: int, timeout: float = 30) -> None:
    """A positive barrier: wait until process `pid` has exited."""
    wait_until(lambda: not pid_alive(pid), timeout, 0.05, f"process {pid} to exit")


def start_server(data_dir: Path, *, keys: tuple[str, ...] = ("alice", "bob"),
                 **env: str) -> Server:
    """A started server with a key for each of `keys` (the first is the default)."""
    server = Server(data_dir)
    server.env.update(env)
    for name in keys:
        server.create_key(name)
    return server.start()
