"""GET /v1/tasks/{id}/log: a run's crawl log (`<data_dir>/logs/<run>.log`) as text, whole, its
last `tail` lines, or a `Range: bytes=a-b` of it. The file is read in the thread pool."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from control_api.web.errors import ApiError, BadRequest, NotFound

MAX_TAIL = 100_000
TAIL_CHUNK = 64 * 1024
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(ApiError):
    status = 416


@dataclass
class Answer:
    body: bytes
    status: int = 200
    headers: dict[bytes, bytes] = field(default_factory=dict)


def parse_range(header: str, size: int) -> tuple[int, int]:
    """The inclusive byte range `bytes=a-b`, `bytes=a-` or `bytes=-n` of a file of `size`
    bytes; RangeNotSatisfiable when it starts past the end (or is empty)."""
    match = RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        raise BadRequest("Range must be a single `bytes=first-last`, `bytes=first-` or "
                         "`bytes=-suffix`")
    first_text, last_text = match.groups()
    if first_text == "":
        suffix = int(last_text)
        first, last = max(0, size - suffix), size - 1
        if suffix == 0:
            first = size
    else:
        first = int(first_text)
        last = min(int(last_text), size - 1) if last_text else size - 1
        if last_text and int(last_text) < first:
            raise BadRequest("Range: the last byte is before the first")
    if first >= size or last < first:
        raise RangeNotSatisfiable(f"the log has {size} bytes; the range {header.strip()!r} "
                                  "is not within them", size=size)
    return first, last


def tail_lines(path: Path, count: int) -> bytes:
    """The last `count` lines of the file, reading backwards in chunks."""
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        end = f.tell()
        data = b""
        while end > 0 and data.count(b"\n") <= count:
            start = max(0, end - TAIL_CHUNK)
            f.seek(start)
            data = f.read(end - start) + data
            end = start
    lines = data.splitlines(keepends=True)
    return b"".join(lines[-count:]) if count else b""


def read(path: Path, tail: int | None, range_header: str | None) -> Answer:
    """In a thread: the answer for the log at `path`."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise NotFound("this run has no crawl log") from None
    headers = {b"Accept-Ranges": b"bytes"}
    if tail is not None:
        return Answer(tail_lines(path, tail), 200, headers)
    if range_header:
        first, last = parse_range(range_header, size)
        with path.open("rb") as f:
            f.seek(first)
            body = f.read(last - first + 1)
        headers[b"Content-Range"] = f"bytes {first}-{first + len(body) - 1}/{size}".encode()
        return Answer(body, 206, headers)
    return Answer(path.read_bytes(), 200, headers)
