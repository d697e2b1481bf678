"""Joining detail pages into items: a field with `follow` waits for its linked page's fields.

Each detail URL is fetched once; every item that links to it, before or after the fetch, gets
its fields. An item is ready when none of its detail links is outstanding.

For a stored run the waiting is state in the store (engine/frontier/): each waiting item has an
id and a row (`pending_row`), and a new crawl process of the run carries on with `restore`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.extraction.items import FollowLink
from engine.ids import new_id
from engine.scheme import FieldRule


@dataclass
class _Pending:
    item: dict[str, Any]
    missing: int = 0
    id: str = field(default_factory=lambda: new_id("w"))
    links: list[FollowLink] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        """As the store keeps it (engine/store/frontier.py, pending_items)."""
        return {"id": self.id, "data": self.item,
                "links": [[link.url, link.field.name, link.index] for link in self.links]}


def _empty(rule: FieldRule, url: str) -> dict[str, Any]:
    assert rule.follow is not None
    return {"url": url, **{f.name: ([] if f.many else None) for f in rule.follow.fields}}


class DetailJoin:
    def __init__(self) -> None:
        self._waiting: dict[str, list[tuple[_Pending, FollowLink]]] = {}
        self._known: dict[tuple[str, str], dict[str, Any]] = {}  # (url, field) -> value

    def add(self, item: dict[str, Any], links: list[FollowLink]
            ) -> tuple[bool, list[FollowLink]]:
        """Register an item; returns whether it is ready, and the detail links to fetch now
        (a page fetched earlier for another field is fetched again for this one)."""
        ready, to_fetch, _ = self.add_pending(item, links)
        return ready, to_fetch

    def add_pending(self, item: dict[str, Any], links: list[FollowLink]
                    ) -> tuple[bool, list[FollowLink], _Pending | None]:
        """`add`, and the waiting item when it is not ready."""
        pending = _Pending(item)
        to_fetch: list[FollowLink] = []
        for link in links:
            known = self._known.get((link.url, link.field.name))
            if known is not None:
                _fill(item, link, known)
                continue
            if link.url not in self._waiting:
                self._waiting[link.url] = []
                to_fetch.append(link)
            self._waiting[link.url].append((pending, link))
            pending.missing += 1
            pending.links.append(link)
        ready = pending.missing == 0
        return ready, to_fetch, None if ready else pending

    def restore(self, rows: list[dict[str, Any]], known: list[dict[str, Any]],
                rules: dict[str, FieldRule]) -> None:
        """Carry on from the store: detail values found so far (url, detail, detail_value),
        and waiting items (pending_row) with the links they still miss."""
        for row in known:
            rule = rules.get(row["detail"])
            if rule is not None:
                value = (row["detail_value"] or {}).get(rule.name) or _empty(rule, row["url"])
                self._known[(row["url"], rule.name)] = value
        for row in rows:
            pending = _Pending(row["data"], id=row["id"])
            for url, name, index in row["links"]:
                rule = rules.get(name)
                if rule is None:
                    continue
                link = FollowLink(url=url, field=rule, index=index)
                pending.links.append(link)
                self._waiting.setdefault(url, []).append((pending, link))
                pending.missing += 1

    def waiting_rules(self, url: str) -> list[FieldRule]:
        """The distinct field rules waiting for `url`, to extract the detail page with."""
        rules: dict[str, FieldRule] = {}
        for _, link in self._waiting.get(url, []):
            rules.setdefault(link.field.name, link.field)
        return list(rules.values())

    def resolve(self, url: str, values: dict[str, dict[str, Any]] | None) -> list[dict[str, Any]]:
        """The detail page was handled (values per field name, None if it failed): the items
        that became ready."""
        return [pending.item for pending in self.resolve_pending(url, values)]

    def resolve_pending(self, url: str, values: dict[str, dict[str, Any]] | None
                        ) -> list[_Pending]:
        """`resolve`, as the waiting items (with their ids) that became ready."""
        ready = []
        for pending, link in self._waiting.pop(url, []):
            value = (values or {}).get(link.field.name) or _empty(link.field, url)
            self._known[(url, link.field.name)] = value
            _fill(pending.item, link, value)
            pending.missing -= 1
            if pending.missing == 0:
                ready.append(pending)
        return ready

    def __len__(self) -> int:
        return len(self._waiting)


def _fill(item: dict[str, Any], link: FollowLink, value: dict[str, Any]) -> None:
    if link.index is None:
        item[link.field.name] = value
    else:
        item[link.field.name][link.index] = value
