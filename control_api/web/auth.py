"""Who calls: the principal of an API key (`X-API-KEY` or `api_key`), counted against its
rate limits. One instance serves every Klein app of the server."""

from __future__ import annotations

from twisted.web.iweb import IRequest

from control_api.config import Config
from control_api.keys import Principal, authenticate, hash_key
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
        who: Principal | None = await in_thread(authenticate, self.store, self.key(request))
        return self.admit(who, bucket, per_minute)

    @staticmethod
    def key(request: IRequest) -> str:
        """The caller's API key (401 without one)."""
        key = request.getHeader(b"x-api-key") or query_arg(request, "api_key")
        if isinstance(key, bytes):
            key = key.decode("latin-1")
        if not key:
            raise Unauthorized("an API key is required: header X-API-KEY or query api_key")
        return key

    def key_hash(self, request: IRequest) -> str:
        """The hash the store knows the caller's key by, for reads that check the key in
        their own store round trip (engine/store/tasks.py `get_by_key`): a revoked key fails
        on its very next request, and a read costs one thread-pool hop, not two."""
        return hash_key(self.key(request))

    def admit(self, who: Principal | tuple[str, str] | None, bucket: str = "api",
              per_minute: int | None = None) -> Principal:
        """The caller whose key the store found (401 when it did not), counted against its
        rate limits."""
        if who is None:
            raise Unauthorized("the API key is not valid")
        if not isinstance(who, Principal):
            who = Principal(*who)
        self.limiter.check(who.key_id, "api", self.config.rate_limit)
        if per_minute is not None:
            self.limiter.check(who.key_id, bucket, per_minute)
        return who
