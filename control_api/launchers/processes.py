"""The crawl processes of the local launcher: a run's own Python (`Worker`), or a process
forked for it by the fork server (`ForkServer`, `Forked`); each reports its end to the
launcher."""

from __future__ import annotations

import json
import os
import signal
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twisted.internet import protocol

from engine.store import Row

if TYPE_CHECKING:
    from control_api.launchers.local import LocalLauncher


def pid_alive(pid: int) -> bool:
    """Whether process `pid` still runs. A zombie counts as gone: a crawl whose server died is
    reparented, and where PID 1 does not reap (containers) it stays a zombie, which would be
    adopted as a running crawl and then watched until the end of time."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (not Linux): the signal said it exists
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


class Forked:
    """A run's crawl process forked by the fork server (its pid known once it reports it)."""

    stderr = b""  # the child writes its stderr into the run's log

    def __init__(self, run_id: str, helper: bool = False):
        self.run_id: str | None = run_id
        self.helper = helper  # one of a run's other processes ("processes": N)
        self.pid = 0
        self.pending_signal: str | None = None  # asked before the pid was known

    @property
    def ended_pid(self) -> int:
        return self.pid

    def signal(self, name: str) -> None:
        if not self.pid:
            self.pending_signal = name
            return
        with suppress(ProcessLookupError):
            os.kill(self.pid, getattr(signal, f"SIG{name}"))


class ForkServer(protocol.ProcessProtocol):
    """The fork server process (engine/forkserver.py): forks one crawl process per run."""

    def __init__(self, launcher: LocalLauncher):
        self.launcher = launcher
        self.buffer = b""
        self.stderr = b""

    def start(self, run: Row) -> None:
        self.tell({"task_id": run["task_id"], "run_id": run["id"]})

    def tell(self, message: dict[str, Any]) -> None:
        assert self.transport is not None
        self.transport.write(json.dumps(message).encode() + b"\n")

    def outReceived(self, data: bytes) -> None:
        *lines, self.buffer = (self.buffer + data).split(b"\n")
        for line in lines:
            if line.strip():
                message = json.loads(line)
                if "from" in message:  # a run of a shared process ended
                    self.launcher.shared_run_ended(int(message["from"]), message["run_id"],
                                                   int(message["code"]), message.get("reason"))
                elif "shared" in message:
                    self.launcher.shared_forked(int(message["shared"]), int(message["pid"]))
                elif "run_id" in message:
                    self.launcher.forked(message["run_id"], int(message["pid"]))
                else:
                    self.launcher.child_ended(int(message["pid"]), message["code"])

    def errReceived(self, data: bytes) -> None:
        self.stderr = (self.stderr + data)[-4000:]

    def close(self) -> None:
        if self.transport is not None:
            self.transport.closeStdin()  # it exits; its children finish their runs

    def processEnded(self, reason: Any) -> None:
        self.launcher.fork_server_ended(self)


class Worker(protocol.ProcessProtocol):
    """One crawl process started for one run (no fork server): runs it and exits."""

    def __init__(self, launcher: LocalLauncher):
        self.launcher = launcher
        self.run_id: str | None = None
        self.stderr = b""
        self.started_pid = self.ended_pid = 0  # (the transport forgets its pid at the end)

    def assign(self, run: Row) -> None:
        self.run_id = run["id"]
        assert self.transport is not None
        self.started_pid = self.pid
        self.transport.write(json.dumps({"task_id": run["task_id"], "run_id": run["id"]})
                             .encode() + b"\n")
        self.transport.closeStdin()

    @property
    def pid(self) -> int:
        return int(self.transport.pid) if self.transport and self.transport.pid else 0

    def errReceived(self, data: bytes) -> None:
        self.stderr = (self.stderr + data)[-4000:]

    def signal(self, name: str) -> None:
        if self.transport is not None and self.transport.pid:
            self.transport.signalProcess(name)

    def processEnded(self, reason: Any) -> None:
        code = getattr(reason.value, "exitCode", None)
        self.ended_pid = self.started_pid
        self.launcher.ended(self, code)
