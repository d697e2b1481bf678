"""Scrapyd nodes as the Scrapyd launcher knows them: a URL without credentials, and the
basic-auth pair the URL carried (`http://user:pass@host:6800/`)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit


class NodeError(Exception):
    """A node refused or failed a call (down, or Scrapyd answered `"status": "error"`)."""


@dataclass(frozen=True)
class Node:
    url: str  # without credentials, ending with "/"
    auth: tuple[str, str] | None = None

    @classmethod
    def parse(cls, url: str) -> Node:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not a Scrapyd node URL: {url!r}")
        auth = None
        if parts.username is not None:
            auth = (unquote(parts.username), unquote(parts.password or ""))
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        path = parts.path if parts.path.endswith("/") else parts.path + "/"
        return cls(urlunsplit((parts.scheme, netloc, path, "", "")), auth)


def parse_nodes(value: str | tuple[str, ...]) -> list[Node]:
    items = value.split(",") if isinstance(value, str) else list(value)
    return [Node.parse(item) for item in items if item.strip()]
