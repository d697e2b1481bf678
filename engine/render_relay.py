"""How bytes move through the browser's filtering proxy (engine/render_proxy.py decides
whether they may): a response body on its way back, and CONNECT tunnels spliced both ways,
each with flow control, so a slow side pauses the other instead of filling memory.
"""

# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.protocol import ClientFactory, Protocol, connectionDone
from twisted.protocols import portforward
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.client import ResponseDone
from twisted.web.http import PotentialDataLoss
from twisted.web.iweb import IAgentEndpointFactory
from zope.interface import implementer


@implementer(IAgentEndpointFactory)
class To:
    """The Agent's connection: to the checked address, whatever the URL's host."""

    def __init__(self, endpoint: IStreamClientEndpoint):
        self.endpoint = endpoint

    def endpointForURI(self, uri: Any) -> IStreamClientEndpoint:
        return self.endpoint


class Body(Protocol):
    """A response body on its way to the browser, paused while the browser is slower."""

    def __init__(self, request: http.Request):
        self.request = request

    def connectionMade(self) -> None:
        source: Any = self.transport
        self.request.registerProducer(source, True)
        self.request.notifyFinish().addErrback(lambda _: source.stopProducing())

    def dataReceived(self, data: bytes) -> None:
        self.request.write(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        request = self.request
        if request._disconnected:
            return
        request.unregisterProducer()
        if reason.check(ResponseDone, PotentialDataLoss):
            request.finish()
        else:  # cut short: the browser sees an error, not a shorter body
            browser: Any = request.channel.transport
            browser.abortConnection()


class Tunnel(portforward.Proxy):
    """The target's (or the gate's) side of a CONNECT: once connected, says so to the browser
    (or sends the gate its own CONNECT) and splices the two connections."""

    def connectionMade(self) -> None:
        factory: TunnelFactory = self.factory  # type: ignore[assignment]
        request, ours = factory.request, self.transport
        assert ours is not None
        if request._disconnected:
            ours.loseConnection()
            return
        if factory.established:
            browser: Any = request.channel.transport
            browser.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        if factory.preamble:
            ours.write(factory.preamble)
        take_over(request, self)
        # Flow control both ways, as twisted.protocols.portforward does.
        assert self.peer is not None
        theirs: Any = self.peer.transport
        ours.registerProducer(theirs, True)  # type: ignore[attr-defined]
        theirs.registerProducer(ours, True)


class TunnelFactory(ClientFactory):
    protocol = Tunnel  # type: ignore[assignment]

    def __init__(self, request: http.Request, preamble: bytes, established: bool):
        self.request = request
        self.preamble = preamble
        self.established = established  # answer 200 ourselves (no gate to answer)
        self.noisy = False


def take_over(request: http.Request, peer: portforward.Proxy) -> None:
    """Hands the browser's connection, after a CONNECT, to a tunnel (as Twisted's own
    WebSocket upgrade does): its bytes go to `peer` from now on."""
    channel = request.channel
    pending = b"".join(getattr(channel, "_dataBuffer", []))
    transport: Any = channel.transport
    transport.unregisterProducer()  # the channel's; the tunnel registers its own
    end = portforward.Proxy()
    end.noisy = False
    channel.dataReceived = end.dataReceived  # type: ignore[method-assign]
    channel.connectionLost = end.connectionLost  # type: ignore[method-assign]
    end.makeConnection(transport)
    end.setPeer(peer)
    peer.setPeer(end)
    if pending:
        tunnel: Any = peer.transport
        tunnel.write(pending)
    transport.resumeProducing()  # had the channel paused it for pipelined bytes
