"""The `crawlplane` command: serve, keys, webhook-secret, db, tasks, run.

Client commands (tasks, run) find the server with --url, CRAWLPLANE_URL or CRAWLPLANE_LISTEN.
"""

from __future__ import annotations

import argparse
import gc
import sys
from typing import Any

from control_api import cli_tasks
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
    print(f"  store: {_where(server.store.url)}\n  data:  {config.data_dir}", flush=True)
    if config.allow_private_targets:
        print("  private targets: allowed (CRAWLPLANE_ALLOW_PRIVATE_TARGETS=1): crawls and "
              "webhooks may reach loopback and private addresses", flush=True)
    else:
        print("  private targets: not allowed: crawls and webhooks reach public addresses "
              "only; set CRAWLPLANE_ALLOW_PRIVATE_TARGETS=1 to crawl a local site", flush=True)
    command = sys.argv[0] if sys.argv[0].endswith("crawlplane") else "crawlplane"
    print(f"  create an API key:  {command} keys create NAME", flush=True)
    print(f"  web console:        {url}/", flush=True)
    print(f"  API docs:           {url}/docs", flush=True)
    print(f"  create a task:      curl -H 'X-API-KEY: KEY' -d @task.json {url}/v1/tasks",
          flush=True)
    # Everything made so far (the imported modules, the app, the OpenAPI document) lives as
    # long as the server: out of the collector's sight, a full collection walks only what
    # came since. It walked it all in 70-145 ms, every few seconds under load, and each one
    # stalled every request in flight (bench/api.py's p99 of reads).
    gc.freeze()
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


def _where(url: str) -> str:
    """A store URL as people may see it (no password)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


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
        print(f"created key {record['id']} for tenant {record['tenant']} in the store "
              f"{_where(store.url)}; it is shown only once:")
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
        p.add_argument("--url", help="the server (default: $CRAWLPLANE_URL, else "
                                     "http://$CRAWLPLANE_LISTEN, else http://127.0.0.1:8700)")
        p.add_argument("--key", help="API key (default: $CRAWLPLANE_API_KEY)")

    cli_tasks.add_parsers(sub, client_args)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("crawlplane: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `crawlplane tasks list | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
