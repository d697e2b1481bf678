"""The `crawlplane` client commands in a pipe and in a pseudo-terminal: every results format
by extension, errors as one line, the server found from the environment, tasks commands."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import select
import subprocess
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import gen_scheme
from tests.site.fixture import TestSite
from tests.support.server import CRAWLPLANE, Server, server_env


@pytest.fixture
def env(api: Server) -> dict[str, str]:
    return {**api.env, "CRAWLPLANE_URL": api.url, "CRAWLPLANE_API_KEY": api.keys["alice"],
            "COLUMNS": "160"}


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CRAWLPLANE, *args], env=env, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def in_pty(env: dict[str, str], *args: str, timeout: float = 120) -> tuple[int, str]:
    """Run with stdin, stdout and stderr on a pseudo-terminal; its exit code and output."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([CRAWLPLANE, *args], env={**env, "TERM": "xterm"}, stdin=follower,
                            stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the other side closed
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(leader)
    return proc.wait(timeout=10), out.decode("utf-8", "replace")


def one_line_error(done: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert done.returncode != 0, done
    assert "Traceback" not in done.stderr and '""' not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("crawlplane: "), done.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def scheme_file(tmp_path: Path, scheme: dict[str, Any], name: str = "scheme.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(scheme))
    return str(path)


def test_every_format_by_extension_any_case(env: dict[str, str], site: TestSite,
                                            tmp_path: Path) -> None:
    scheme = scheme_file(tmp_path, gen_scheme(site, max_pages=3))
    parsers = {
        "json": lambda b: json.loads(b),
        "jsonl": lambda b: [json.loads(line) for line in b.splitlines()],
        "csv": lambda b: list(csv.DictReader(io.StringIO(b.decode()))),
        "xml": lambda b: [b.count(b"<item>")] * b.count(b"<item>"),
        "xlsx": lambda b: [0] * (len(zipfile.ZipFile(io.BytesIO(b)).read(
            "xl/worksheets/sheet1.xml").split(b"<row")) - 2),
    }
    for ext in ("json", "JSONL", "Csv", "xml", "XLSX"):
        out = tmp_path / f"out.{ext}"
        done = cli(env, "run", scheme, "--wait", "-o", str(out))
        assert done.returncode == 0, done.stderr
        assert "3 items written" in done.stderr and "Traceback" not in done.stderr
        assert len(parsers[ext.lower()](out.read_bytes())) == 3, ext


def test_single_json_line_results(env: dict[str, str], site: TestSite, tmp_path: Path) -> None:
    """One item: the JSONL file is one JSON line (it used to crash on a dict)."""
    out = tmp_path / "x.jsonl"
    done = cli(env, "run", scheme_file(tmp_path, gen_scheme(site, max_pages=1)), "--wait",
               "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert len(out.read_text().splitlines()) == 1 and json.loads(out.read_text())["title"]


def test_usage_errors_come_before_the_crawl(api: Server, env: dict[str, str], site: TestSite,
                                            tmp_path: Path) -> None:
    before = len(api.ok("GET", "/v1/tasks?take=100")["data"])
    scheme = scheme_file(tmp_path, gen_scheme(site, max_pages=1))
    one_line_error(cli(env, "run", scheme, "-o", str(tmp_path / "x.csv")), "-o needs --wait")
    one_line_error(cli(env, "run", scheme, "--wait", "-o", str(tmp_path / "x.txt")),
                   ".txt", ".xlsx")
    one_line_error(cli(env, "run", str(tmp_path / "nope.json")), "nope.json", "no such file")
    broken = tmp_path / "broken.json"
    broken.write_text('{"start_urls": [}')
    one_line_error(cli(env, "run", str(broken)), "broken.json", "not valid JSON", "line 1")
    one_line_error(cli(env, "run", scheme_file(tmp_path, [1], "list.json")),
                   "list.json", "JSON object")
    assert len(api.ok("GET", "/v1/tasks?take=100")["data"]) == before
    one_line_error(cli(env, "run", scheme_file(tmp_path, {"start_urls": ["ftp://x/"]}, "b.json")),
                   "error 422", "start_urls[0]")


def test_server_found_from_the_environment(api: Server, env: dict[str, str]) -> None:
    listen = {k: v for k, v in env.items() if k != "CRAWLPLANE_URL"}
    listen["CRAWLPLANE_LISTEN"] = api.url.removeprefix("http://")
    assert cli(listen, "tasks", "list").returncode == 0
    nowhere = {**env, "CRAWLPLANE_URL": "http://127.0.0.1:9"}
    one_line_error(cli(nowhere, "tasks", "list"), "cannot reach the server at http://127.0.0.1:9")
    assert "CRAWLPLANE_URL" in cli(env, "run", "--help").stdout
    no_key = {k: v for k, v in env.items() if k != "CRAWLPLANE_API_KEY"}
    one_line_error(cli(no_key, "tasks", "list"), "API key")


def test_tasks_commands(api: Server, env: dict[str, str], site: TestSite, tmp_path: Path) -> None:
    first = api.create(gen_scheme(site, max_pages=2), name="cli-first", run=False)
    second = api.create(gen_scheme(site, max_pages=2), name="cli-second")
    api.wait_status(second["id"], "completed")
    listing = cli(env, "tasks", "list", "--order", "asc").stdout.splitlines()
    assert listing[0].split("\t") == ["ID", "STATUS", "ITEMS", "CREATED (UTC)", "ENDED (UTC)",
                                      "NAME"]
    names = [line.split("\t")[-1] for line in listing[1:]]
    assert names.index("cli-first") < names.index("cli-second")
    newest = cli(env, "tasks", "list", "--order", "desc").stdout.splitlines()[1].split("\t")
    assert newest[-1] == "cli-second" and newest[3][:4].isdigit()

    out = tmp_path / "r.CSV"
    assert cli(env, "tasks", "download", second["id"], "-o", str(out)).returncode == 0
    assert len(list(csv.DictReader(out.open()))) == 2
    one_line_error(cli(env, "tasks", "cancel", first["id"]), "error 409")
    one_line_error(cli(env, "tasks", "download", first["id"], "-o", str(tmp_path / "a.csv")),
                   "error 409")
    log = cli(env, "tasks", "log", second["id"])
    assert log.returncode == 0 or "error 404" in log.stderr  # /log lands with observability
    deleted = cli(env, "tasks", "delete", first["id"])
    assert deleted.returncode == 0 and "deleted" in deleted.stdout
    assert api.call("GET", f"/v1/tasks/{first['id']}").status == 404
    one_line_error(cli(env, "tasks", "show", first["id"]), "error 404")


def test_waited_task_that_ends_in_error_exits_1(env: dict[str, str], site: TestSite,
                                                tmp_path: Path) -> None:
    scheme = {"start_urls": [site.abs("/status/404/")],
              "item": {"fields": [{"name": "t", "selector": "CSS: h1"}]},
              "politeness": {"obey_robots": False}, "request": {"retry": {"limit": 0}}}
    done = cli(env, "run", scheme_file(tmp_path, scheme), "--wait")
    assert done.returncode == 1
    assert "ended error" in done.stderr and "Traceback" not in done.stderr


def test_in_a_terminal_progress_bar_and_table(env: dict[str, str], site: TestSite,
                                              tmp_path: Path) -> None:
    out = tmp_path / "t.json"
    code, text = in_pty(env, "run", scheme_file(tmp_path, gen_scheme(site, max_pages=20)),
                        "--wait", "-o", str(out))
    assert code == 0, text
    assert "pages/s" in text and "━" in text and "20/20" in text, text
    assert "20 items written" in text and len(json.loads(out.read_text())) == 20
    code, table = in_pty(env, "tasks", "list")
    assert code == 0 and "CREATED (UTC)" in table and "\t" not in table


def test_in_a_pipe_plain_lines(env: dict[str, str], site: TestSite, tmp_path: Path) -> None:
    done = cli(env, "run", scheme_file(tmp_path, gen_scheme(site, max_pages=5)), "--wait",
               "-o", str(tmp_path / "p.jsonl"))
    assert done.returncode == 0
    assert "\r" not in done.stderr and "\x1b[" not in done.stderr
    assert any(line.endswith(" s") and "pages" in line for line in done.stderr.splitlines())


def test_keys_create_names_the_store(api: Server) -> None:
    created = api.cli("keys", "create", "carol").stdout.strip().splitlines()
    assert "in the store sqlite" in created[0] and created[-1].startswith("cpk_")


@pytest.mark.parametrize("allow", [True, False])
def test_banner_says_whether_private_targets_are_allowed(tmp_path: Path, allow: bool) -> None:
    proc = subprocess.Popen([CRAWLPLANE, "serve"], env=server_env(tmp_path, allow_private=allow),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        banner = [proc.stdout.readline() for _ in range(6)]
        line = next(line for line in banner if "private targets" in line)
        assert ("private targets: allowed" in line) is allow
        assert allow or "CRAWLPLANE_ALLOW_PRIVATE_TARGETS=1" in line
        assert any("web console:" in line for line in banner)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
