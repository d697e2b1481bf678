"""The composition root: builds the server (store, launcher, API) from its settings.

Nothing else creates these objects. The reactor must be Scrapy's asyncio reactor, installed
before `klein` is imported (Klein imports the default reactor): see `install_reactor`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from control_api.config import Config

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from engine.store import Row

logger = logging.getLogger(__name__)
ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"


def install_reactor() -> None:
    from scrapy.utils.reactor import install_reactor as install

    install(ASYNCIO_REACTOR)


class Server:
    def __init__(self, config: Config, reactor: Any | None = None):
        from twisted.internet import reactor as default_reactor

        from control_api.background.scheduler import Scheduler
        from control_api.background.sweeps import Reaper
        from control_api.background.webhooks import WebhookSender
        from control_api.launchers.base import Launcher
        from control_api.launchers.local import LocalLauncher
        from control_api.web import targets
        from control_api.web.auth import Auth
        from control_api.web.console import ConsoleApp
        from control_api.web.context import ApiContext
        from control_api.web.events import EventHub
        from control_api.web.interactive import InteractiveAPI
        from control_api.web.metrics import Metrics
        from control_api.web.preview import PreviewAPI
        from control_api.web.reads import POSTGRES_LANES, ReadBatches
        from control_api.web.schedules import ScheduleAPI
        from control_api.web.task_api import TaskAPI
        from engine.store import Store

        self.config = config
        self.reactor = reactor or default_reactor
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(config.database_url, migrate=config.auto_migrate)
        # Called with a run id and its task (None if it could not be read) when a run's
        # process is gone; results first, then these in turn.
        self.finished_hooks: list[Callable[[str, Row | None], Any]] = []
        self.launcher: Launcher
        if config.launcher == "scrapyd" or (not config.launcher and config.scrapyd_nodes):
            from control_api.launchers.scrapyd import ScrapydLauncher

            self.launcher = ScrapydLauncher(self.store, config, self.reactor, self.run_finished)
        else:
            self.launcher = LocalLauncher(self.store, config, self.reactor, self.run_finished)
        # What the three Klein apps share: one authentication (with its rate limits) and the
        # outbound safety check of crawl targets and webhook URLs.
        self.context = ApiContext(self.store, config, self.launcher, Auth(self.store, config),
                                  target_check=targets.TargetCheck(config.allow_private_targets,
                                                                     self.reactor),
                                  # Reads that wait on the network may go several at once.
                                  reads=ReadBatches(lanes=1 if self.store.engine.dialect.name
                                                    == "sqlite" else POSTGRES_LANES))
        self.context.events = EventHub(self.store, self.reactor, config.data_dir,
                                       interval=config.events_interval,
                                       heartbeat=config.events_heartbeat)
        self.context.metrics = Metrics(self.store, config.max_processes,
                                       token=config.metrics_token, public=config.metrics_public)
        self.api = TaskAPI(self.context)
        self.interactive = InteractiveAPI(self.context)
        self.finished_hooks.append(self.interactive.run_finished)
        self.webhooks = WebhookSender(self.store, config, self.reactor)
        self.finished_hooks.append(self.webhooks.run_finished)
        # Scheduled crawls (control_api/web/schedules.py): /v1/schedules, fired on the
        # reactor's clock.
        self.schedules = ScheduleAPI(self.context, self.reactor)
        # POST /v1/preview: one page through the engine, in a preview process.
        self.preview = PreviewAPI(self.context, self.reactor)
        # The web console at / and the API reference at /docs (control_api/web/console.py).
        self.console = ConsoleApp(self.context, warm_preview=self.preview.pool.process)
        self.scheduler = Scheduler(self.store, self.launcher, self.reactor)
        self.reaper = Reaper(self.store, config.stale_after, self.reactor, self.run_finished)

    def run_finished(self, run_id: str) -> Any:
        from twisted.internet import threads

        from control_api.results import render_run

        d = threads.deferToThread(render_run, self.store, self.config.data_dir, run_id)
        d.addErrback(self._failed, "rendering results", run_id)  # (None: hooks read it)
        d.addCallback(self._call_hooks, run_id)
        return d

    def _call_hooks(self, task: Row | None, run_id: str) -> Deferred[Any]:
        """The hooks in turn, with the task read once (most have nothing to do for most
        runs, and need no store read to know it); each runs even when an earlier one failed
        (webhooks must not wait on a file)."""
        from twisted.internet.defer import succeed

        d: Deferred[Any] = succeed(None)
        for hook in self.finished_hooks:
            d.addCallback(self._call_hook, hook, run_id, task)
            d.addErrback(self._failed, getattr(hook, "__qualname__", repr(hook)), run_id)
        return d

    @staticmethod
    def _call_hook(_: object, hook: Callable[[str, Row | None], Any], run_id: str,
                   task: Row | None) -> Any:
        return hook(run_id, task)

    @staticmethod
    def _failed(failure: Any, step: str, run_id: str) -> None:
        logger.error("after run %s, %s failed: %s", run_id, step, failure.getTraceback())

    def listen(self) -> Any:
        from control_api.web.channel import ApiSite
        from control_api.web.routing import PrefixRouter

        site = ApiSite(PrefixRouter(self.api.app.resource(), {
            (b"api", b"v2"): self.interactive.app.resource(),
            (b"v1", b"schedules"): self.schedules.app.resource(),
            (b"v1", b"preview"): self.preview.app.resource(),
            (b"",): self.console.app.resource(),
            (b"console",): self.console.app.resource(),
            (b"docs",): self.console.app.resource(),
        }))
        site.displayTracebacks = False
        port = self.reactor.listenTCP(self.config.port, site,  # type: ignore[arg-type]
                                      interface=self.config.host)
        self.launcher.start()
        self.reactor.addSystemEventTrigger("before", "shutdown", self.launcher.stop)
        self.scheduler.start()
        self.reactor.addSystemEventTrigger("before", "shutdown", self.scheduler.stop)
        self.reaper.start()
        self.reactor.addSystemEventTrigger("before", "shutdown", self.reaper.stop)
        address: Any = port.getHost()
        self.webhooks.start(f"http://{address.host}:{address.port}")
        self.reactor.addSystemEventTrigger("before", "shutdown", self.webhooks.stop)
        self.reactor.addSystemEventTrigger("before", "shutdown", self.preview.pool.stop)
        return port
