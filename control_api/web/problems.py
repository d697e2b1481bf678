"""Errors as problem+json (DESIGN.md decision 6): the one mapping every Klein app uses.

Domain exceptions (web/errors.py) keep their status; werkzeug's routing errors become 404 or
405 with `Allow`; a store that cannot be reached or stays busy is a 503 with `Retry-After`;
anything else is a logged 500 that tells the client nothing more.
"""

from __future__ import annotations

import logging
from typing import Any

from klein import Klein
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from werkzeug.exceptions import HTTPException

from control_api.web.errors import ApiError, problem
from control_api.web.http import send_json
from engine.store import outage

logger = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


def api_error(request: IRequest, failure: Failure) -> bytes:
    error = failure.value
    assert isinstance(error, ApiError)
    if error.status == 429:
        request.setHeader(b"Retry-After", str(error.retry_after).encode())
    if error.status == 401:
        request.setHeader(b"WWW-Authenticate", b'ApiKey header="X-API-KEY"')
    return send_json(request, error.problem(), error.status, PROBLEM_JSON)


def routing_error(request: IRequest, failure: Failure) -> bytes:
    error = failure.value
    assert isinstance(error, HTTPException)
    # werkzeug's redirects (`//` merged into `/`) carry no Location here: a path that
    # needs one names nothing.
    status = error.code if error.code and error.code >= 400 else 404
    detail = (f"{request.method.decode()} is not allowed on {request.path.decode()}"
              if status == 405 else f"no such resource: {request.path.decode()}")
    if status == 405 and getattr(error, "valid_methods", None):
        request.setHeader(b"Allow", ", ".join(error.valid_methods).encode())  # type: ignore[attr-defined]
    return send_json(request, problem(status, detail), status, PROBLEM_JSON)


STORE_RETRY_AFTER = 1  # seconds a client is told to wait when the store is unavailable


def store_down(request: IRequest, failure: Failure) -> bytes:
    # One line, no traceback: an outage would write one per request.
    logger.warning("the store did not answer %s %s: %s", request.method.decode(),
                   request.uri.decode(errors="replace"),
                   outage.summary(failure.value))
    request.setHeader(b"Retry-After", str(STORE_RETRY_AFTER).encode())
    return send_json(request, problem(503, "the store is unavailable; try again shortly"), 503,
                     PROBLEM_JSON)


def bug(request: IRequest, failure: Failure) -> bytes:
    logger.error("unhandled error on %s %s: %s", request.method, request.uri,
                 failure.getTraceback())
    return send_json(request, problem(500, "internal error"), 500, PROBLEM_JSON)


def map_problems(app: Klein) -> None:
    """Give a class's Klein app the problem+json mapping. Call it after the class body, so
    that the class's own handlers (if any) come first."""

    @app.handle_errors(ApiError)
    def on_api_error(self: Any, request: IRequest, failure: Failure) -> bytes:
        return api_error(request, failure)

    @app.handle_errors(HTTPException)
    def on_routing_error(self: Any, request: IRequest, failure: Failure) -> bytes:
        return routing_error(request, failure)

    @app.handle_errors(Exception)
    def on_bug(self: Any, request: IRequest, failure: Failure) -> bytes:
        if outage.unavailable(failure.value):
            return store_down(request, failure)
        return bug(request, failure)
