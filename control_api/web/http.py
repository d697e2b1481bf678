"""IRequest and response helpers for the Klein handlers: JSON in, JSON or problem+json out."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from twisted.web.iweb import IRequest

from control_api.web.errors import BadRequest, PayloadTooLarge, Unprocessable
from engine.scheme import error_path, validation_errors

M = TypeVar("M", bound=BaseModel)
MAX_DEPTH = 64  # JSON nesting a request may have; a scheme with ten levels of follow needs ~35
NUL_MESSAGE = "NUL characters (\\u0000) are not allowed"


def send_json(request: IRequest, body: Any, status: int = 200,
              content_type: str = "application/json") -> bytes:
    # With the reason phrase: Twisted has none for some codes (422 would say "Unknown Status").
    return send_json_text(request, json.dumps(body, ensure_ascii=False), status, content_type)


def send_json_text(request: IRequest, text: str, status: int = 200,
                   content_type: str = "application/json") -> bytes:
    """A body encoded already, as `send_json` encodes (control_api/web/views.py)."""
    request.setResponseCode(status, HTTPStatus(status).phrase.encode())
    request.setHeader(b"Content-Type", content_type.encode())
    body = text.encode("utf-8")
    # Its length, known: Twisted would otherwise send the body chunked.
    request.setHeader(b"Content-Length", b"%d" % len(body))
    return body


def query_arg(request: IRequest, name: str) -> str | None:
    values = request.args.get(name.encode())
    return values[0].decode("utf-8") if values else None


def query_int(request: IRequest, name: str, default: int, low: int, high: int) -> int:
    raw = query_arg(request, name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"query parameter {name!r} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"query parameter {name!r} must be between {low} and {high}")
    return value


def query_choice(request: IRequest, name: str, choices: tuple[str, ...],
                 default: str | None) -> str | None:
    raw = query_arg(request, name)
    if raw is None or raw == "":
        return default
    if raw not in choices:
        raise BadRequest(f"query parameter {name!r} must be one of {', '.join(choices)}; "
                         f"got {raw!r}")
    return raw


def read_json(request: IRequest, limit: int) -> Any:
    """The request body as JSON: 413 over `limit` bytes, 400 when it is not JSON or too
    deeply nested, 422 when a string holds a NUL."""
    length = request.getHeader(b"content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"the request body is over the limit of {limit} bytes")
    body = request.content.read(limit + 1) if request.content is not None else b""
    if len(body) > limit:
        raise PayloadTooLarge(f"the request body is over the limit of {limit} bytes")
    if not body.strip():
        return None
    try:
        data = json.loads(body)
    except RecursionError:
        raise BadRequest(f"the request body is nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}") from None
    check_body(data)
    return data


def check_body(data: Any) -> None:
    """What every JSON body must satisfy before a model sees it: at most `MAX_DEPTH` levels
    (pydantic and our own walks recurse), and no NUL in any string (PostgreSQL text cannot
    hold one; SQLite could, so both stores answer alike only if neither gets one)."""
    errors: dict[str, list[str]] = {}
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while stack:  # iterative: a recursive walk is what deep nesting breaks
        value, loc = stack.pop()
        if len(loc) > MAX_DEPTH:
            raise BadRequest(f"the request body is nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, str):
            if "\0" in value:
                errors.setdefault(error_path(loc), []).append(NUL_MESSAGE)
        elif isinstance(value, dict):
            for key, item in value.items():
                key_loc = (*loc, key.replace("\0", "\\u0000"))
                if "\0" in key:
                    errors.setdefault(error_path(key_loc), []).append(NUL_MESSAGE)
                stack.append((item, key_loc))
        elif isinstance(value, list):
            stack.extend((item, (*loc, i)) for i, item in enumerate(value))
    if errors:
        raise Unprocessable(dict(sorted(errors.items())))


def validate(model: type[M], data: Any) -> M:
    """Validate a JSON body with a pydantic model; 422 with every bad path."""
    if not isinstance(data, dict):
        raise Unprocessable({"$": ["the body must be a JSON object"]})
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Unprocessable(validation_errors(exc)) from None
