"""The store's tables, in SQLAlchemy Core so that SQLite and PostgreSQL share one definition.

Timestamps are float seconds since the epoch (portable across both backends); JSON columns
hold schemes, DownloadInfo records and items.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

tenants = Table(
    "tenants",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("webhook_secret", String(100), nullable=False),
    Column("created_at", Float, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("tenant_id", String(40), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("tenant_id", String(40), nullable=False, index=True),
    Column("name", String(500)),
    Column("tag", String(500)),
    Column("kind", String(20), nullable=False, default="crawl"),  # crawl | job (/api/v2)
    Column("scheme", JSON, nullable=False),
    Column("payload_id", String(32), nullable=False),
    Column("run_id", String(40)),  # the latest run; None until the first run is queued
    Column("collected", Boolean, nullable=False, default=False),
    Column("callback_url", Text),
    Column("pingback_url", Text),
    Column("postback_url", Text),
    Column("postback_format", String(10)),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # The scheme's `formats`, all a task object shows of it: a listing reads them without
    # parsing every task's whole scheme (which may list thousands of URLs).
    Column("formats", JSON),
    Index("ix_tasks_tenant_created", "tenant_id", "created_at", "id"),
    Index("ix_tasks_tenant_id_id", "tenant_id", "id"),  # list pages: keyset by id per tenant
)

# One execution of a task. Status: queued, running, completed, cancelled, error.
runs = Table(
    "runs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("task_id", String(40), nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("error", Text),
    Column("launcher", String(100)),  # who took it: "local:<host>", "scrapyd:<host>", "external"
    Column("handle", String(200)),  # the launcher's handle: a pid or a Scrapyd job id
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("requests", Integer, nullable=False, default=0),  # successful HTTP responses
    Column("pages", Integer, nullable=False, default=0),  # pages finished, in any state
    Column("failed", Integer, nullable=False, default=0),
    Column("queued", Integer, nullable=False, default=0),  # requests waiting or in flight
    Column("items", Integer, nullable=False, default=0),
    Column("queued_at", Float, nullable=False),
    Column("started_at", Float),
    Column("ended_at", Float),
    Column("heartbeat_at", Float),
    # The outcome (engine/outcome.py), written with the counters: failed pages counted by
    # reason ({"http_404": 3, "dns": 1}) and warnings (a list of sentences).
    Column("failures", JSON),
    Column("warnings", JSON),
    # {format: bytes} of the results files rendered so far (engine/results.py): the task
    # object shows sizes without a stat per file. Null on runs rendered before revision 0003.
    Column("result_sizes", JSON),
    # The durable frontier (engine/frontier/): crawl processes that died on this run so far,
    # and who paused it ("server:<launcher>" when a server stopping paused it, to resume).
    Column("tries", Integer, nullable=False, default=0, server_default="0"),
    Column("planned", Integer, nullable=False, default=0, server_default="0"),  # pages created
    Column("paused_by", String(100)),
)

# Download tasks: one per page a run asked for, with the outcome of its last attempt.
# State: Created, InProgress, Handled, AccessDeniedForRobots, AllRequestGatesExhausted, Deleted.
pages = Table(
    "pages",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("task_id", String(40), nullable=False),
    Column("run_id", String(40), nullable=False),
    Column("url", Text, nullable=False),
    Column("state", String(40), nullable=False),
    Column("depth", Integer, nullable=False, default=0),
    Column("parent_id", String(40)),
    Column("http_status", Integer),
    Column("content_type", String(200)),
    Column("error", Text),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # The durable frontier (engine/frontier/): what rebuilds the page's request. `key` (a hash
    # of the canonical URL, and of the field for a detail page) is unique per run; a job's
    # pages have none. `worker` is the crawl process that claimed it (InProgress).
    Column("key", String(40)),
    Column("page_no", Integer),
    Column("follow_depth", Integer),
    Column("detail", String(200)),  # the field a detail page is fetched for
    Column("detail_value", JSON),  # a handled detail page's fields, per field name
    Column("worker", String(100)),
    Index("ix_pages_run_key", "run_id", "key", unique=True),
    Index("ix_pages_run_state", "run_id", "state", "created_at"),
    Index("ix_pages_task_id", "task_id", "id"),
    # Lookups by URL. PostgreSQL's btree refuses entries over 2704 bytes (long URLs exist):
    # there a hash index on the URL, which has no such limit.
    Index("ix_pages_task_url", "task_id", "url").ddl_if(dialect="sqlite"),
    Index("ix_pages_url_hash", "url", postgresql_using="hash").ddl_if(dialect="postgresql"),
    Index("ix_pages_task_state", "task_id", "state"),  # an interactive job's Created pages
)

# Items waiting for detail pages (field follow): committed with the page they came from,
# deleted with the item they become once every detail URL in `links` is handled.
pending_items = Table(
    "pending_items",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("run_id", String(40), nullable=False, index=True),
    Column("data", JSON, nullable=False),
    Column("links", JSON, nullable=False),  # [[url, field name, index or null], ...]
)

# A run with several crawl processes and a crawl delay: when each host was last sent a request
# (engine/store/hosts.py), so that the delay holds across the processes, not in each alone.
host_sends = Table(
    "host_sends",
    metadata,
    Column("run_id", String(40), primary_key=True),
    Column("host", String(300), primary_key=True),
    Column("sent_at", Float, nullable=False),
)

# Every attempt at a page (redirect hops, retries, other gates), in order; the last is the result.
download_infos = Table(
    "download_infos",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("page_id", String(40), nullable=False, index=True),
    Column("attempt", Integer, nullable=False),
    Column("info", JSON, nullable=False),
)

# Page bodies, zlib-compressed, kept for the interactive API's scrape/crawl and revalidation.
page_bodies = Table(
    "page_bodies",
    metadata,
    Column("page_id", String(40), primary_key=True),
    Column("url", Text, nullable=False),
    Column("encoding", String(40)),
    Column("etag", String(500)),
    Column("last_modified", String(100)),
    Column("body", LargeBinary, nullable=False),
)

items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(40), nullable=False),
    Column("task_id", String(40), nullable=False),
    Column("data", JSON, nullable=False),
    Index("ix_items_run", "run_id", "id"),
)

# Webhook deliveries, one row per attempt (control_api/background/webhooks.py). `delivery_id` is the
# X-Crawlplane-Delivery header, the same on every attempt of one delivery. A row with `at`
# null is the attempt due at `next_attempt_at` (state pending, or sending while a server holds
# it until that time); a sent row keeps its outcome and, when retried, the retry's due time.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", String(40), nullable=False),
    Column("tenant_id", String(40), nullable=False),
    Column("task_id", String(40), nullable=False),
    Column("run_id", String(40), nullable=False),
    Column("kind", String(20), nullable=False),  # callback | pingback | postback
    Column("url", Text, nullable=False),
    Column("format", String(10)),  # postback only
    Column("payload", JSON),  # callback only: the task object as the run ended
    Column("attempt", Integer, nullable=False),
    Column("state", String(20), nullable=False),  # pending sending retried delivered failed
    Column("status_code", Integer),
    Column("error", Text),
    Column("at", Float),
    Column("next_attempt_at", Float),
    Index("ix_deliveries_task", "task_id", "id"),
    Index("ix_deliveries_due", "state", "next_attempt_at"),
)

# Scheduled crawls: a cron expression (in `timezone`) that queues a run of `task_id`.
schedules = Table(
    "schedules",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("tenant_id", String(40), nullable=False, index=True),
    Column("name", String(500)),
    Column("tag", String(500)),
    Column("cron", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("task_id", String(40), nullable=False),
    Column("next_at", Float, nullable=False, index=True),  # the next firing
    Column("last_at", Float),  # the last firing
    Column("last_run_id", String(40)),  # the run the last firing queued
    Column("last_error", Text),  # why the last firing queued nothing (e.g. still running)
    Column("fired", Integer, nullable=False, default=0),  # runs queued so far
    Column("created_at", Float, nullable=False),
)
