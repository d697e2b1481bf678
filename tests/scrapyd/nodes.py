"""Real Scrapyd nodes, as child processes on loopback (the Crawlplane server they work for is
tests/support/server.py's `Server`).

Used by tests/scrapyd and bench/scale.py. A node runs `python -m scrapyd` in its own temporary
directory (its scrapyd.conf, eggs, logs and queues) and in its own process group, so that
`kill()` takes its crawl processes down with it, like a machine that dies.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from tests.support.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "crawlplane"
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without Crawlplane's settings (each test states its own)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRAWLPLANE_", "SCRAPY"))}
    env.update(extra)
    return env


def build_egg(dest: Path) -> Path:
    """The project's egg, built by setuptools from a clean copy of the sources."""
    src = Path(tempfile.mkdtemp(prefix="cp-egg-src-"))
    try:
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        for name in ("engine", "control_api"):
            shutil.copytree(ROOT / name, src / name, ignore=ignore)
        for name in ("pyproject.toml", "setup.py", "README.md"):
            shutil.copy(ROOT / name, src / name)
        subprocess.run([sys.executable, "setup.py", "-q", "bdist_egg", "-d", str(dest)],
                       cwd=src, check=True, capture_output=True)
    finally:
        shutil.rmtree(src, ignore_errors=True)
    return next(dest.glob("*.egg"))


def call(url: str, data: dict[str, Any] | list[tuple[str, str]] | None = None,
         auth: tuple[str, str] | None = None, files: dict[str, bytes] | None = None,
         timeout: float = 30) -> dict[str, Any]:
    """GET (no data) or POST a Scrapyd endpoint; its JSON answer."""
    headers = {}
    body = None
    if files:
        boundary = uuid.uuid4().hex
        parts = []
        for key, value in (data.items() if isinstance(data, dict) else data or []):
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
                         f"{value}\r\n".encode())
        for key, blob in files.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"; '
                         f'filename="{key}.egg"\r\nContent-Type: application/octet-stream'
                         f"\r\n\r\n".encode() + blob + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    elif data is not None:
        body = urllib.parse.urlencode(data).encode()
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    request = urllib.request.Request(url, data=body, headers=headers)
    with _opener.open(request, timeout=timeout) as response:
        result: dict[str, Any] = json.loads(response.read())
    return result


class ScrapydNode:
    def __init__(self, name: str, auth: tuple[str, str] | None = None,
                 max_proc: int = 4) -> None:
        self.name = name
        self.auth = auth
        self.max_proc = max_proc
        self.dir = Path(tempfile.mkdtemp(prefix=f"cp-scrapyd-{name}-"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The URL without credentials, as the launcher stores it in a run's handle."""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def config_url(self) -> str:
        """The URL as given to the server, with basic auth when the node has it."""
        if not self.auth:
            return self.url
        return f"http://{self.auth[0]}:{self.auth[1]}@127.0.0.1:{self.port}/"

    def start(self) -> ScrapydNode:
        user, password = self.auth or ("", "")
        (self.dir / "scrapyd.conf").write_text(
            "[scrapyd]\nbind_address = 127.0.0.1\n"
            f"http_port = {self.port}\nusername = {user}\npassword = {password}\n"
            f"max_proc = {self.max_proc}\npoll_interval = 0.2\neggs_dir = eggs\n"
            "logs_dir = logs\ndbs_dir = dbs\nitems_dir =\njobs_to_keep = 20\n"
        )
        log = open(self.dir / "scrapyd.out", "ab")  # noqa: SIM115 (the child keeps it open)
        self.proc = subprocess.Popen([sys.executable, "-m", "scrapyd"],
                                     cwd=self.dir, env=clean_env(), stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

        def answers() -> bool:
            try:
                self.get("daemonstatus.json")
                return True
            except (OSError, urllib.error.URLError):
                assert self.proc is not None and self.proc.poll() is None, (
                    f"scrapyd {self.name} exited: "
                    + (self.dir / "scrapyd.out").read_text()[-2000:])
                return False

        wait_until(answers, 30, 0.1, lambda: f"scrapyd {self.name} to answer: "
                   + (self.dir / "scrapyd.out").read_text()[-2000:])
        return self

    def get(self, endpoint: str, **params: str) -> dict[str, Any]:
        query = ("?" + urllib.parse.urlencode(params)) if params else ""
        return call(self.url + endpoint + query, auth=self.auth, timeout=10)

    def post(self, endpoint: str, data: dict[str, Any] | list[tuple[str, str]],
             files: dict[str, bytes] | None = None) -> dict[str, Any]:
        return call(self.url + endpoint, data, auth=self.auth, files=files)

    def deploy(self, egg: Path, version: str = "1") -> dict[str, Any]:
        return self.post("addversion.json", {"project": PROJECT, "version": version},
                         files={"egg": egg.read_bytes()})

    def jobs(self) -> dict[str, str]:
        body = self.get("listjobs.json", project=PROJECT)
        return {job["id"]: state for state in ("pending", "running", "finished")
                for job in body[state]}

    def kill(self) -> None:
        """Like a machine that dies: the node and its crawl processes, at once."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
