"""The CLI's client commands: `crawlplane run` and `crawlplane tasks ...`, over the HTTP API.

The server is found with `--url`, else `CRAWLPLANE_URL`, else `CRAWLPLANE_LISTEN` (the
address `crawlplane serve` listens on), else http://127.0.0.1:8700. Every failure is one
line on stderr (`crawlplane: ...`) and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

FORMATS = ("json", "jsonl", "csv", "xml", "xlsx")
ACTIVE = ("queued", "running")
DEFAULT_URL = "http://127.0.0.1:8700"


class CliError(SystemExit):
    """One clear line for the user, exit status 1 (2 for usage)."""

    def __init__(self, message: str, code: int = 1):
        print(f"crawlplane: {message}", file=sys.stderr)
        super().__init__(code)


def server_url(env: dict[str, str] | None = None) -> str:
    env = dict(os.environ if env is None else env)
    if env.get("CRAWLPLANE_URL"):
        return env["CRAWLPLANE_URL"].rstrip("/")
    listen = env.get("CRAWLPLANE_LISTEN")
    if listen and ":" in listen:
        host, port = listen.rsplit(":", 1)
        host = host.strip("[]")
        if host in ("", "0.0.0.0", "::"):  # listening everywhere: reach it on loopback
            host = "127.0.0.1"
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    return DEFAULT_URL


class Client:
    """A small HTTP client of the API."""

    def __init__(self, url: str, key: str):
        self.url = url.rstrip("/")
        self.key = key

    def call(self, method: str, path: str, body: Any = None, raw: bool = False) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"X-API-KEY": self.key,
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                payload = response.read()
                ctype = response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            raise CliError(problem_line(exc.code, exc.read())) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CliError(f"cannot reach the server at {self.url} ({reason}); set --url or "
                           "CRAWLPLANE_URL") from None
        if raw:
            return payload
        if ctype.split(";")[0].strip() == "application/json" and payload:
            return json.loads(payload)
        return payload


    def follow(self, task_id: str, display: Any) -> dict[str, Any] | None:
        """Follow the task's event stream (`/v1/tasks/{id}/events`) to its end, showing
        progress; the task object of the `end` event, or None when there is no stream or it
        failed (the caller polls instead)."""
        request = urllib.request.Request(f"{self.url}/v1/tasks/{task_id}/events",
                                         headers={"X-API-KEY": self.key,
                                                  "Accept": "text/event-stream"})
        state: dict[str, Any] = {"id": task_id, "status": "queued", "items": 0,
                                 "progress": {"done": 0, "queued": 0}}
        last_id = None
        for _ in range(3):  # a dropped connection resumes where it was
            if last_id:
                request.add_header("Last-Event-ID", last_id)
            try:
                with urllib.request.urlopen(request, timeout=60) as stream:
                    event, data = "", ""
                    for raw in stream:
                        line = raw.decode("utf-8").rstrip("\r\n")
                        if line.startswith("id:"):
                            last_id = line[3:].strip()
                        elif line.startswith("event:"):
                            event = line[6:].strip()
                        elif line.startswith("data:"):
                            data = line[5:].strip()
                        elif not line and event:
                            value = json.loads(data)
                            if event == "end":
                                return value if "status" in value else None
                            if event == "status":
                                state["status"] = value["status"]
                            elif event == "progress":
                                state["items"] = value.get("items", state["items"])
                                state["progress"] = value
                            display.update(state)
                            event, data = "", ""
            except urllib.error.HTTPError:
                return None  # no stream on this server (404): poll
            except (OSError, ValueError, KeyError):
                pass
        return None


def problem_line(status: int, body: bytes) -> str:
    """An error answer as one line: status, detail and each field path's messages."""
    try:
        problem = json.loads(body or b"{}")
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    line = f"error {status}: {problem.get('detail') or problem.get('title') or 'no detail'}"
    errors = problem.get("errors") or {}
    if isinstance(errors, dict) and errors:
        line += " (" + "; ".join(f"{path}: {', '.join(map(str, msgs))}"
                                 for path, msgs in errors.items()) + ")"
    return line


def client(args: argparse.Namespace) -> Client:
    key = args.key or os.environ.get("CRAWLPLANE_API_KEY")
    if not key:
        raise CliError("an API key is needed: --key or CRAWLPLANE_API_KEY "
                       "(crawlplane keys create NAME makes one)")
    return Client(args.url or server_url(), key)


def output_format(path: str) -> str:
    """The results format named by a file's extension (case-insensitive)."""
    fmt = Path(path).suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise CliError(f"-o {path}: the extension must name a format: "
                       f"{', '.join('.' + f for f in FORMATS)}", 2)
    return fmt


def load_scheme(path: str) -> dict[str, Any]:
    file = Path(path)
    try:
        text = file.read_text("utf-8")
    except FileNotFoundError:
        raise CliError(f"scheme file {path}: no such file") from None
    except IsADirectoryError:
        raise CliError(f"scheme file {path}: is a directory") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"scheme file {path}: cannot be read ({exc})") from None
    try:
        scheme = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"scheme file {path}: not valid JSON: {exc.msg} at line {exc.lineno} "
                       f"column {exc.colno}") from None
    if not isinstance(scheme, dict):
        raise CliError(f"scheme file {path}: must hold a JSON object (the scheme)")
    return scheme


def stamp(value: str | None) -> str:
    if not value:
        return "-"
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return value


# -- run --------------------------------------------------------------------------------------

def run(args: argparse.Namespace) -> int:
    if args.output and not args.wait:
        raise CliError("-o needs --wait (the results exist once the task has run); without "
                       "--wait, fetch them later with: crawlplane tasks download ID -o FILE", 2)
    fmt = output_format(args.output) if args.output else None
    scheme = load_scheme(args.scheme)
    api = client(args)
    task = api.call("POST", "/v1/tasks", {"scheme": scheme, "name": args.name})
    print(f"task {task['id']} {task['status']}", file=sys.stderr)
    if not args.wait:
        print(task["id"])
        return 0
    task = wait(api, task)
    if task["status"] != "completed":
        print(f"crawlplane: task {task['id']} ended {task['status']}"
              + (f": {task['error']}" if task.get("error") else ""), file=sys.stderr)
        return 1
    if task.get("failures"):
        counts = ", ".join(f"{key} {n}" for key, n in sorted(task["failures"].items()))
        print(f"task {task['id']} completed with failed pages: {counts}", file=sys.stderr)
    for warning in task.get("warnings") or ():
        print(f"warning: {warning}", file=sys.stderr)
    fmt = fmt or (scheme.get("formats") or ["jsonl"])[0]
    output = Path(args.output or f"{task['id']}.{fmt}")
    output.write_bytes(api.call("GET", f"/v1/tasks/{task['id']}/store?format={fmt}", raw=True))
    print(f"{task['items']} items written to {output}", file=sys.stderr)
    return 0


def wait(api: Client, task: dict[str, Any]) -> dict[str, Any]:
    """Poll until the task's run ends, showing progress; Ctrl-C asks whether to cancel."""
    from control_api.cli_progress import progress_display

    display = progress_display()
    try:
        with display:
            if task["status"] in ACTIVE:  # the event stream when the server has one
                task = api.follow(task["id"], display) or task
            while task["status"] in (*ACTIVE, "paused"):  # else (or after it) poll
                display.update(task)
                time.sleep(0.5)
                task = api.call("GET", f"/v1/tasks/{task['id']}")
            display.update(task)
    except KeyboardInterrupt:
        return interrupted(api, task)
    return task


def interrupted(api: Client, task: dict[str, Any]) -> dict[str, Any]:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a second Ctrl-C just quits
    answer = "n"
    if sys.stdin.isatty():
        try:
            answer = input(f"\ncancel task {task['id']}? [y/N] ").strip().lower()
        except EOFError:
            answer = "n"
    if answer in ("y", "yes"):
        task = api.call("POST", f"/v1/tasks/{task['id']}/cancel")
        print(f"task {task['id']} {task['status']}", file=sys.stderr)
        raise SystemExit(130)
    print(f"\ntask {task['id']} goes on; cancel it with: crawlplane tasks cancel {task['id']}",
          file=sys.stderr)
    raise SystemExit(130)


# -- tasks ------------------------------------------------------------------------------------

def tasks(args: argparse.Namespace) -> int:
    api = client(args)
    command = args.tasks_command
    if command == "list":
        return list_tasks(api, args)
    path = f"/v1/tasks/{args.id}"
    if command == "show":
        print(json.dumps(api.call("GET", path), indent=2))
    elif command in ("cancel", "pause", "resume"):
        task = api.call("POST", f"{path}/{command}")
        print(f"task {task['id']} {task['status']}")
    elif command == "delete":
        api.call("DELETE", path)
        print(f"task {args.id} deleted")
    elif command == "log":
        tail = f"?tail={args.tail}" if args.tail else ""
        sys.stdout.write(api.call("GET", f"{path}/log{tail}", raw=True).decode("utf-8",
                                                                                "replace"))
    elif command == "download":
        fmt = output_format(args.output) if args.output else (args.format or "jsonl")
        output = Path(args.output or f"{args.id}.{fmt}")
        data = api.call("GET", f"{path}/store?format={fmt}", raw=True)
        output.write_bytes(data)
        print(f"{len(data)} bytes written to {output}", file=sys.stderr)
    return 0


def list_tasks(api: Client, args: argparse.Namespace) -> int:
    query = f"/v1/tasks?order={args.order}&take={args.take}"
    if args.status:
        query += f"&status={args.status}"
    rows = [(t["id"], t["status"], str(t["items"] if t["items"] is not None else "-"),
             stamp(t["created_at"]), stamp(t["ended_at"]), t["name"] or "")
            for t in api.call("GET", query)["data"]]
    header = ("ID", "STATUS", "ITEMS", "CREATED (UTC)", "ENDED (UTC)", "NAME")
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(*header, box=None, header_style="bold")
        for row in rows:
            table.add_row(*row)
        Console().print(table)
    else:  # tab-separated for scripts, with the header first
        for row in (header, *rows):
            print("\t".join(row))
    return 0


def add_parsers(sub: Any, client_args: Any) -> None:
    task_parser = sub.add_parser("tasks", help="list, show, cancel, delete, download tasks")
    task_sub = task_parser.add_subparsers(dest="tasks_command", required=True)
    listing = task_sub.add_parser("list", help="a table of tasks with their dates")
    listing.add_argument("--order", choices=("asc", "desc"), default="desc",
                         help="oldest (asc) or newest (desc, the default) first")
    listing.add_argument("--status", help="only tasks in this status")
    listing.add_argument("--take", type=int, default=100, help="how many (1..100)")
    client_args(listing)
    for name, text in (("show", "the task as JSON"), ("cancel", "stop its run, keep its data"),
                       ("delete", "terminate any run and delete the task with its data"),
                       ("pause", "stop taking new pages (the frontier is kept)"),
                       ("resume", "continue a paused run"),
                       ("log", "the crawl log of its latest run")):
        command = task_sub.add_parser(name, help=text)
        command.add_argument("id")
        if name == "log":
            command.add_argument("--tail", type=int, help="only the last N lines")
        client_args(command)
    download = task_sub.add_parser("download", help="its results file")
    download.add_argument("id")
    download.add_argument("-o", "--output", help="file; the format from its extension")
    download.add_argument("--format", choices=FORMATS, help="without -o (default jsonl)")
    client_args(download)
    task_parser.set_defaults(func=tasks)

    run_parser = sub.add_parser("run", help="create a task from a scheme file and run it")
    run_parser.add_argument("scheme", help="a JSON file holding the scheme")
    run_parser.add_argument("--name")
    run_parser.add_argument("--wait", action="store_true",
                            help="wait with a progress display, then write the results")
    run_parser.add_argument("-o", "--output",
                            help="results file, with --wait; the format from its extension "
                                 "(.json .jsonl .csv .xml .xlsx, any case)")
    client_args(run_parser)
    run_parser.set_defaults(func=run)
