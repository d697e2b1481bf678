"""The server's HTTP channel: Twisted's, but a request it cannot read answers problem+json.

Twisted drops the connection without a word when the request line or a header line is over
`MAX_LENGTH` (16 kB), and answers a bare `400` with no body when the headers are over
`totalHeadersSize` or a line is malformed. Here those are 414 (request line), 431 (headers)
and 400 problem+json, and the connection closes after the answer.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from twisted.web.http import HTTPChannel
from twisted.web.server import Site

from control_api.web.errors import problem

ACCESS = logging.getLogger("control_api.access")
DRAIN_SECONDS = 10  # how long a refused client may keep sending before it is cut off


class Channel(HTTPChannel):
    _refused = False

    def lineLengthExceeded(self, line: bytes) -> None:  # noqa: N802 (Twisted's name)
        # Still on the request line (Twisted's private flag: 1 until the line is read).
        if getattr(self, "_HTTPChannel__first_line", 0):
            self._refuse(414, f"the request line is over {self.MAX_LENGTH} bytes")
        else:
            self._refuse(431, f"a header line is over {self.MAX_LENGTH} bytes")

    def _respondToBadRequestAndDisconnect(self) -> None:  # noqa: N802
        if self._receivedHeaderSize > self.totalHeadersSize:
            self._refuse(431, f"the request line and headers are over {self.totalHeadersSize} "
                              "bytes")
        else:
            self._refuse(400, "the request line or a header is malformed")

    def _refuse(self, status: int, detail: str) -> None:
        if self._refused:
            return
        self._refused = True
        body = json.dumps(problem(status, detail)).encode()
        self.transport.write(  # type: ignore[union-attr]
            b"HTTP/1.1 %d %s\r\nContent-Type: application/problem+json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
            % (status, HTTPStatus(status).phrase.encode(), len(body), body))
        # Stop parsing, then close our side only and drop whatever the client still sends:
        # closing outright would reset the connection before the client reads the answer.
        self.setRawMode()
        half_close = getattr(self.transport, "loseWriteConnection", None)
        if half_close is not None:
            half_close()
            self.setTimeout(DRAIN_SECONDS)
        else:
            self.loseConnection()

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        if not self._refused:
            super().dataReceived(data)

    def rawDataReceived(self, data: bytes) -> None:  # noqa: N802
        if not self._refused:
            super().rawDataReceived(data)


class ApiSite(Site):
    """A Site speaking HTTP/1.1 through `Channel` (the server listens on plain TCP: no h2)."""

    protocol: Any = Channel

    def __init__(self, resource: Any, **kwargs: Any):
        # The API reads JSON bodies only. Twisted would parse every POST's Content-Type with
        # the email package, to read form and multipart bodies into `request.args`: 0.2-0.5 ms
        # of CPU per task created (5-10%), and a form's bad bytes were blamed on the query.
        super().__init__(resource, parsePOSTFormSubmission=False, **kwargs)

    def log(self, request: Any) -> None:
        """The access log line (Twisted's combined log format) straight to Python's logging:
        through Twisted's log file and observers it cost about 6% of the server's CPU time
        per request."""
        if ACCESS.isEnabledFor(logging.INFO):
            ACCESS.info("%s", self._logFormatter(self._logDateTime, request))
