"""An HTTP agent that connects only to addresses the outbound rules allow.

`outbound.check_url` before a request gives the clear error; this closes the gap after it
(DNS rebinding: a name that resolved to a public address for the check and to 169.254.169.254
a moment later for the connection). Resolved addresses are filtered as they arrive, so the
address connected to is always one that was checked; with none left the request fails with a
DNS lookup error.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import (
    IHostnameResolver,
    IHostResolution,
    IReactorPluggableNameResolver,
    IResolutionReceiver,
    IStreamClientEndpoint,
)
from twisted.web.client import Agent, BrowserLikePolicyForHTTPS, HTTPConnectionPool
from twisted.web.iweb import IAgentEndpointFactory
from zope.interface import implementer

from engine.outbound import address_kind


@implementer(IResolutionReceiver)
class _Filter:
    def __init__(self, receiver: IResolutionReceiver, allow_private: bool):
        self.receiver = receiver
        self.allow_private = allow_private

    def resolutionBegan(self, resolution: IHostResolution) -> None:
        self.receiver.resolutionBegan(resolution)

    def addressResolved(self, address: Any) -> None:
        if address_kind(str(address.host), self.allow_private) is None:
            self.receiver.addressResolved(address)

    def resolutionComplete(self) -> None:
        self.receiver.resolutionComplete()


@implementer(IHostnameResolver)
class SafeResolver:
    def __init__(self, resolver: IHostnameResolver, allow_private: bool):
        self.resolver = resolver
        self.allow_private = allow_private

    def resolveHostName(self, resolutionReceiver: IResolutionReceiver, hostName: str,
                        portNumber: int = 0, addressTypes: Any = None,
                        transportSemantics: str = "TCP") -> IHostResolution:
        return self.resolver.resolveHostName(
            _Filter(resolutionReceiver, self.allow_private), hostName, portNumber,
            addressTypes, transportSemantics)


@implementer(IReactorPluggableNameResolver)
class _ResolverReactor:
    """The reactor, seen by HostnameEndpoint with the filtering resolver in place."""

    def __init__(self, reactor: Any, resolver: IHostnameResolver):
        self._reactor = reactor
        self.nameResolver = resolver

    def installNameResolver(self, resolver: IHostnameResolver) -> IHostnameResolver:
        raise NotImplementedError("fixed resolver")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reactor, name)


@implementer(IAgentEndpointFactory)
class _SafeEndpoints:
    def __init__(self, reactor: Any, allow_private: bool, connect_timeout: float):
        self.reactor = _ResolverReactor(reactor, SafeResolver(reactor.nameResolver,
                                                              allow_private))
        self.timeout = connect_timeout
        self.policy = BrowserLikePolicyForHTTPS()

    def endpointForURI(self, uri: Any) -> IStreamClientEndpoint:
        endpoint: IStreamClientEndpoint = HostnameEndpoint(
            self.reactor, uri.host, uri.port, timeout=self.timeout)
        if uri.scheme == b"https":
            endpoint = wrapClientTLS(self.policy.creatorForNetloc(uri.host, uri.port), endpoint)
        return endpoint


def safe_agent(reactor: Any, pool: HTTPConnectionPool, allow_private: bool,
               connect_timeout: float) -> Agent:
    agent: Agent = Agent.usingEndpointFactory(
        reactor, _SafeEndpoints(reactor, allow_private, connect_timeout), pool=pool)
    return agent
