"""The `crawlplane` command: serve, keys, webhook-secret, db, tasks, run."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from control_api.config import Config


def serve(args: argparse.Namespace) -> int:
    from control_api.app import install_reactor

    install_reactor()  # before anything imports klein or twisted.internet.reactor
    import logging

    from twisted.internet import reactor
    from twisted.python import log

    from control_api.app import Server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    log.PythonLoggingObserver().start()
    from engine.store import SchemaError

    config = Config.from_env()
    try:
        server = Server(config)
    except SchemaError as exc:
        print(f"crawlplane: {exc}", file=sys.stderr)
        return 2
    port = server.listen()
    address = port.getHost()
    url = f"http://{address.host}:{address.port}"
    print(f"Crawlplane listening on {url}", flush=True)
    print(f"  store: {server.store.url}\n  data:  {config.data_dir}", flush=True)
    command = sys.argv[0] if sys.argv[0].endswith("crawlplane") else "crawlplane"
    print(f"  create an API key:  {command} keys create NAME", flush=True)
    print(f"  API docs:           {url}/docs", flush=True)
    print(f"  create a task:      curl -H 'X-API-KEY: KEY' -d @task.json {url}/v1/tasks",
          flush=True)
    reactor.run()
    return 0


def _store() -> Any:
    from engine.store import SchemaError, Store

    config = Config.from_env()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        return Store(config.database_url, migrate=config.auto_migrate)
    except SchemaError as exc:
        raise SystemExit(f"crawlplane: {exc}") from None


def db(args: argparse.Namespace) -> int:
    """The store's schema: `upgrade` to this Crawlplane's revision, or `check` that it is."""
    from sqlalchemy import create_engine

    from engine.store import schema

    config = Config.from_env()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(config.database_url)
    where = engine.url.render_as_string(hide_password=True)
    try:
        if args.db_command == "check":
            schema.check(engine)
            print(f"store {where}: at revision {schema.HEAD}, as this Crawlplane needs")
            return 0
        before = schema.upgrade(engine)
    except schema.SchemaError as exc:
        print(f"crawlplane: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    was = ("already" if before == schema.HEAD
           else "from no version: created, or adopted from an older release" if before is None
           else f"upgraded from {before}")
    print(f"store {where}: at revision {schema.HEAD} ({was})")
    return 0


def keys(args: argparse.Namespace) -> int:
    from control_api import keys as key_store

    store = _store()
    if args.keys_command == "create":
        key, record = key_store.create_key(store, args.name, args.tenant)
        print(f"created key {record['id']} for tenant {record['tenant']}; it is shown only once:")
        print(key)
    elif args.keys_command == "list":
        for row in key_store.list_keys(store):
            state = "revoked" if row["revoked_at"] else "active"
            print(f"{row['id']}\t{row['name']}\ttenant={row['tenant']}\t{state}")
    else:
        revoked = key_store.revoke_key(store, args.key)
        print(f"revoked {revoked} key(s)")
        return 0 if revoked else 1
    return 0


def secret(args: argparse.Namespace) -> int:
    """A tenant's webhook signing secret, shown or replaced (also GET /v1/webhook-secret)."""
    from control_api import keys as key_store

    store = _store()
    tenant = key_store.find_tenant(store, args.tenant)
    if tenant is None:
        print(f"no tenant named {args.tenant!r}", file=sys.stderr)
        return 1
    rotate = args.secret_command == "rotate"
    print(key_store.webhook_secret(store, tenant["id"], rotate=rotate))
    return 0


class Client:
    """A small HTTP client of the API for the CLI's task commands."""

    def __init__(self, url: str, key: str):
        self.url = url.rstrip("/")
        self.key = key

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"X-API-KEY": self.key,
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            problem = json.loads(exc.read() or b"{}")
            raise SystemExit(f"error {exc.code}: {problem.get('detail')} "
                             f"{json.dumps(problem.get('errors', ''))}") from None
        ctype = response.headers.get("Content-Type", "")
        return json.loads(raw) if ctype.startswith("application/json") and raw else raw


def _client(args: argparse.Namespace) -> Client:
    key = args.key or os.environ.get("CRAWLPLANE_API_KEY")
    if not key:
        raise SystemExit("an API key is needed: --key or CRAWLPLANE_API_KEY")
    return Client(args.url, key)


def tasks(args: argparse.Namespace) -> int:
    client = _client(args)
    if args.tasks_command == "show":
        print(json.dumps(client.call("GET", f"/v1/tasks/{args.id}"), indent=2))
        return 0
    if args.tasks_command in ("pause", "resume"):
        task = client.call("POST", f"/v1/tasks/{args.id}/{args.tasks_command}")
        print(f"{task['id']}\t{task['status']}")
        return 0
    for task in client.call("GET", "/v1/tasks?order=desc&take=100")["data"]:
        print(f"{task['id']}\t{task['status']}\t{task['items']}\t{task['name'] or ''}")
    return 0


def run(args: argparse.Namespace) -> int:
    client = _client(args)
    scheme = json.loads(Path(args.scheme).read_text("utf-8"))
    task = client.call("POST", "/v1/tasks", {"scheme": scheme, "name": args.name})
    print(f"task {task['id']} {task['status']}", file=sys.stderr)
    if not args.wait:
        print(task["id"])
        return 0
    while task["status"] in ("queued", "running"):
        time.sleep(0.5)
        task = client.call("GET", f"/v1/tasks/{task['id']}")
        _progress(task)
    print(file=sys.stderr)
    if task["status"] != "completed":
        print(f"task {task['id']} ended {task['status']}: {task['error'] or ''}", file=sys.stderr)
        return 1
    if task.get("failures"):
        counts = ", ".join(f"{key} {n}" for key, n in sorted(task["failures"].items()))
        print(f"task {task['id']} completed with failed pages: {counts}", file=sys.stderr)
    for warning in task.get("warnings") or ():
        print(f"warning: {warning}", file=sys.stderr)
    output = Path(args.output or f"{task['id']}.{scheme.get('formats', ['jsonl'])[0]}")
    fmt = output.suffix.lstrip(".") or "jsonl"
    output.write_bytes(client.call("GET", f"/v1/tasks/{task['id']}/store?format={fmt}"))
    print(f"{task['items']} items written to {output}", file=sys.stderr)
    return 0


def _progress(task: dict[str, Any]) -> None:
    done, queued = task["progress"]["done"], task["progress"]["queued"]
    total = max(done + queued, 1)
    width = 30
    filled = int(width * done / total)
    bar = "#" * filled + "-" * (width - filled)
    sys.stderr.write(f"\r[{bar}] {done}/{total} pages, {task['items'] or 0} items, "
                     f"{task['status']}   ")
    sys.stderr.flush()


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="crawlplane", description=__doc__)
    sub = main.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="start the API server").set_defaults(func=serve)

    key_parser = sub.add_parser("keys", help="manage API keys")
    key_sub = key_parser.add_subparsers(dest="keys_command", required=True)
    create = key_sub.add_parser("create", help="create a key; prints it as the last line")
    create.add_argument("name")
    create.add_argument("--tenant", help="the tenant it belongs to (default: NAME)")
    key_sub.add_parser("list", help="list keys")
    revoke = key_sub.add_parser("revoke", help="revoke a key by id or name")
    revoke.add_argument("key")
    key_parser.set_defaults(func=keys)

    secret_parser = sub.add_parser("webhook-secret", help="a tenant's webhook signing secret")
    secret_sub = secret_parser.add_subparsers(dest="secret_command", required=True)
    for name, text in (("show", "print it"), ("rotate", "replace it and print the new one")):
        secret_sub.add_parser(name, help=text).add_argument("tenant")
    secret_parser.set_defaults(func=secret)

    db_parser = sub.add_parser("db", help="the store's schema (migrations)")
    db_sub = db_parser.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="bring the store to this Crawlplane's schema revision")
    db_sub.add_parser("check", help="exit 1, saying what to do, unless the store is at it")
    db_parser.set_defaults(func=db)

    def client_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--url", default=os.environ.get("CRAWLPLANE_URL", "http://127.0.0.1:8700"))
        p.add_argument("--key", help="API key (default: $CRAWLPLANE_API_KEY)")

    task_parser = sub.add_parser("tasks", help="list, show, pause or resume tasks")
    task_sub = task_parser.add_subparsers(dest="tasks_command", required=True)
    client_args(task_sub.add_parser("list"))
    for name, text in (("show", "a task as JSON"),
                       ("pause", "pause the task's run (its frontier is kept)"),
                       ("resume", "queue a paused run again; it carries on where it stopped")):
        one = task_sub.add_parser(name, help=text)
        one.add_argument("id")
        client_args(one)
    task_parser.set_defaults(func=tasks)

    run_parser = sub.add_parser("run", help="create a task from a scheme file and run it")
    run_parser.add_argument("scheme")
    run_parser.add_argument("--name")
    run_parser.add_argument("--wait", action="store_true", help="wait, then write the results")
    run_parser.add_argument("-o", "--output", help="results file (format from its extension)")
    client_args(run_parser)
    run_parser.set_defaults(func=run)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
