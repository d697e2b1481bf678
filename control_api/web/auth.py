"""Who calls: the principal of an API key (`X-API-KEY` or `api_key`), counted against its
rate limits. One instance serves every Klein app of the server."""

from __future__ import annotations

from twisted.web.iweb import IRequest

from control_api.config import Config
from control_api.keys import Principal, authenticate
from control_api.web.errors import Unauthorized
from control_api.web.http import query_arg
from control_api.web.offload import in_thread
from control_api.web.ratelimit import RateLimiter
from engine.store import Store


class Auth:
    def __init__(self, store: Store, config: Config, limiter: RateLimiter | None = None):
        self.store = store
        self.config = config
        self.limiter = limiter or RateLimiter()

    async def principal(self, request: IRequest, bucket: str = "api",
                        per_minute: int | None = None) -> Principal:
        """The caller, from `X-API-KEY` or `api_key`; counts the call against its rate limits
        (the server-wide one, and `bucket`'s when `per_minute` is given)."""
        key = request.getHeader(b"x-api-key") or query_arg(request, "api_key")
        if isinstance(key, bytes):
            key = key.decode("latin-1")
        if not key:
            raise Unauthorized("an API key is required: header X-API-KEY or query api_key")
        who: Principal | None = await in_thread(authenticate, self.store, key)
        if who is None:
            raise Unauthorized("the API key is not valid")
        self.limiter.check(who.key_id, "api", self.config.rate_limit)
        if per_minute is not None:
            self.limiter.check(who.key_id, bucket, per_minute)
        return who
