"""What every Klein app of the server works with, built once by the composition root
(control_api/app.py) and handed to each app: the store, the settings, the launcher, the
caller's authentication, the outbound target check and the server's public address."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from twisted.web.iweb import IRequest

from control_api.config import Config
from control_api.launchers.base import Launcher
from control_api.web.auth import Auth
from control_api.web.reads import ReadBatches
from engine.store import Store

if TYPE_CHECKING:
    from control_api.web.events import EventHub
    from control_api.web.metrics import Metrics


@dataclass
class ApiContext:
    store: Store
    config: Config
    launcher: Launcher
    auth: Auth
    # Outbound safety for crawl targets and webhook URLs (web/targets.py `TargetCheck`); reads
    # `body.scheme` and the webhook URLs of a body, resolving host names in its own bounded
    # thread pool with a timeout. None checks nothing.
    target_check: Callable[[Any], Awaitable[None]] | None = None
    # The event streams' shared poller and the /metrics registry (web/events.py, metrics.py).
    events: EventHub | None = None
    metrics: Metrics | None = None
    # The hot paths' store reads, in batches (web/reads.py).
    reads: ReadBatches = field(default_factory=ReadBatches)

    async def check_targets(self, body: Any) -> None:
        if self.target_check is not None:
            await self.target_check(body)

    def base_url(self, request: IRequest) -> str:
        if self.config.public_url:
            return self.config.public_url
        host = request.getHeader(b"host") or f"{self.config.host}:{self.config.port}".encode()
        scheme = b"https" if request.isSecure() else b"http"
        return f"{scheme.decode()}://{host.decode()}"
