"""Domain exceptions and their RFC 9457 problem+json form, mapped in one place (web/problems.py)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class ApiError(Exception):
    status = 500
    type = "about:blank"
    retry_after = 0  # seconds, for 429

    def __init__(self, detail: str, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def problem(self) -> dict[str, Any]:
        return problem(self.status, self.detail, type_=self.type, **self.extra)


def problem(status: int, detail: str, type_: str = "about:blank", **extra: Any) -> dict[str, Any]:
    return {"type": type_, "title": HTTPStatus(status).phrase, "status": status,
            "detail": detail, **extra}


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class NotFound(ApiError):
    status = 404


class TaskNotFound(NotFound):
    def __init__(self, task_id: str):
        super().__init__(f"task {task_id} not found")


class Conflict(ApiError):
    status = 409


class PayloadTooLarge(ApiError):
    status = 413


class Unprocessable(ApiError):
    """The body is JSON but fails validation; `errors` maps each bad path to its messages."""

    status = 422

    def __init__(self, errors: dict[str, list[str]], detail: str = "the request body is invalid"):
        super().__init__(detail, errors=errors)
        self.errors = errors


class RateLimited(ApiError):
    status = 429
    retry_after: int

    def __init__(self, retry_after: int):
        super().__init__(f"rate limit exceeded, retry in {retry_after} s")
        self.retry_after = retry_after
