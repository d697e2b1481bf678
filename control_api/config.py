"""Server settings, read from the environment (API.md section 6)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from engine.store import store_url


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Config:
    listen: str = "127.0.0.1:8700"
    data_dir: Path = field(default_factory=lambda: Path("~/.crawlplane").expanduser())
    store_url: str = ""  # empty: SQLite in data_dir
    allow_private_targets: bool = False
    max_processes: int = field(default_factory=lambda: os.cpu_count() or 1)
    # 1 (or more): runs are forked by a fork server that imported Scrapy once
    # (engine/forkserver.py); 0: each run starts a new Python (about 1.4 s).
    warm_workers: int = 1
    # Small runs (engine/small.py) share a crawl process forked by the fork server
    # (engine/shared.py): at most this many at once in one (0: every run has its own), and
    # this many in its life before it is replaced.
    shared_runs: int = 10
    shared_recycle: int = 100
    body_limit: int = 1024 * 1024  # bytes of a request body
    # Requests per minute per key, all endpoints together; high enough for an /api/v2 client
    # that repeats its call on every 202 (about ten a second).
    rate_limit: int = 6000
    ready_rate_limit: int = 20  # GET /v1/tasks/ready calls per minute per key
    public_url: str = ""  # base of file_url links; empty: the request's own host
    launcher: str = ""  # local | scrapyd; empty: scrapyd when nodes are set, else local
    scrapyd_nodes: tuple[str, ...] = ()  # node URLs, basic auth as http://user:pass@host:6800
    scrapyd_project: str = "crawlplane"  # the project name the egg was deployed under
    scrapyd_slots: int = 4  # jobs (running + pending) the server keeps on one node at most
    scrapyd_dead_after: float = 30.0  # seconds a node may not answer before it counts as dead
    scrapyd_store_url: str = ""  # store URL sent to nodes; empty: store_url; "-": none (env)
    # Webhook deliveries: seconds to wait for an answer, first retry delay (doubling, with
    # jitter, capped at an hour), attempts before giving up, and how often due ones are sent.
    webhook_timeout: float = 10.0
    webhook_backoff: float = 10.0
    webhook_max_attempts: int = 10
    webhook_poll: float = 1.0
    # A running run whose crawl wrote nothing (not even its heartbeat) for this many seconds
    # has died or hangs: it ends as an error (control_api/background/sweeps.py).
    stale_after: float = 120.0
    # The durable frontier: a run whose crawl process died this many times ends as an error
    # (before that, it is queued again and carries on); crawl processes one run may have.
    max_run_tries: int = 3
    max_run_processes: int = 4
    # Bring the store's schema to this code's revision on start (server and CLI); off: refuse
    # to start on an older store until `crawlplane db upgrade` ran (engine/store/schema.py).
    auto_migrate: bool = True
    # GET /v1/tasks/{id}/events: how often the hub reads the watched tasks (seconds; the
    # fastest progress rate), and the heartbeat comment's period.
    events_interval: float = 0.5
    events_heartbeat: float = 15.0
    # GET /metrics: a bearer token that may read it (besides API keys), or no protection.
    metrics_token: str = ""
    metrics_public: bool = False

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Config:
        env = dict(os.environ if env is None else env)
        defaults = cls()
        return cls(
            listen=env.get("CRAWLPLANE_LISTEN", defaults.listen),
            data_dir=Path(env.get("CRAWLPLANE_DATA_DIR", str(defaults.data_dir))).expanduser(),
            store_url=env.get("CRAWLPLANE_STORE_URL", ""),
            allow_private_targets=_flag(env.get("CRAWLPLANE_ALLOW_PRIVATE_TARGETS")),
            max_processes=int(env.get("CRAWLPLANE_MAX_PROCESSES", defaults.max_processes)),
            warm_workers=int(env.get("CRAWLPLANE_WARM_WORKERS", defaults.warm_workers)),
            shared_runs=int(env.get("CRAWLPLANE_SHARED_RUNS", defaults.shared_runs)),
            shared_recycle=int(env.get("CRAWLPLANE_SHARED_RECYCLE", defaults.shared_recycle)),
            max_run_tries=int(env.get("CRAWLPLANE_MAX_RUN_TRIES", defaults.max_run_tries)),
            max_run_processes=int(env.get("CRAWLPLANE_MAX_RUN_PROCESSES",
                                          defaults.max_run_processes)),
            body_limit=int(env.get("CRAWLPLANE_BODY_LIMIT", defaults.body_limit)),
            rate_limit=int(env.get("CRAWLPLANE_RATE_LIMIT", defaults.rate_limit)),
            ready_rate_limit=int(env.get("CRAWLPLANE_READY_RATE_LIMIT", defaults.ready_rate_limit)),
            public_url=env.get("CRAWLPLANE_PUBLIC_URL", "").rstrip("/"),
            webhook_timeout=float(env.get("CRAWLPLANE_WEBHOOK_TIMEOUT", defaults.webhook_timeout)),
            webhook_backoff=float(env.get("CRAWLPLANE_WEBHOOK_BACKOFF", defaults.webhook_backoff)),
            webhook_max_attempts=int(env.get("CRAWLPLANE_WEBHOOK_MAX_ATTEMPTS",
                                             defaults.webhook_max_attempts)),
            webhook_poll=float(env.get("CRAWLPLANE_WEBHOOK_POLL", defaults.webhook_poll)),
            stale_after=float(env.get("CRAWLPLANE_STALE_AFTER", defaults.stale_after)),
            auto_migrate=_flag(env.get("CRAWLPLANE_AUTO_MIGRATE", "1")),
            events_interval=float(env.get("CRAWLPLANE_EVENTS_INTERVAL",
                                          defaults.events_interval)),
            events_heartbeat=float(env.get("CRAWLPLANE_EVENTS_HEARTBEAT",
                                           defaults.events_heartbeat)),
            metrics_token=env.get("CRAWLPLANE_METRICS_TOKEN", ""),
            metrics_public=_flag(env.get("CRAWLPLANE_METRICS_PUBLIC")),
            launcher=env.get("CRAWLPLANE_LAUNCHER", "").strip().lower(),
            scrapyd_nodes=tuple(n.strip() for n in env.get("CRAWLPLANE_SCRAPYD_NODES", "")
                                .split(",") if n.strip()),
            scrapyd_project=env.get("CRAWLPLANE_SCRAPYD_PROJECT", defaults.scrapyd_project),
            scrapyd_slots=int(env.get("CRAWLPLANE_SCRAPYD_SLOTS", defaults.scrapyd_slots)),
            scrapyd_dead_after=float(env.get("CRAWLPLANE_SCRAPYD_DEAD_AFTER",
                                             defaults.scrapyd_dead_after)),
            scrapyd_store_url=env.get("CRAWLPLANE_SCRAPYD_STORE_URL", ""),
        )

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0] or "127.0.0.1"

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])

    @property
    def database_url(self) -> str:
        return store_url(self.store_url, self.data_dir)

    def crawl_env(self) -> dict[str, str]:
        """The environment crawl processes need to find the same store."""
        return {
            "CRAWLPLANE_DATA_DIR": str(self.data_dir),
            "CRAWLPLANE_STORE_URL": self.store_url,
            "SCRAPY_SETTINGS_MODULE": "engine.settings",
            "CRAWLPLANE_ALLOW_PRIVATE_TARGETS": "1" if self.allow_private_targets else "",
        }
