"""Flat rows for tabular formats (CSV, XLSX): dotted column names, lists joined with "; "."""

from __future__ import annotations

from typing import Any

from engine.scheme import FieldRule, Scheme

LIST_SEPARATOR = "; "


def columns(scheme: Scheme) -> list[str]:
    """The tabular columns a scheme produces, in the order of its fields."""
    if scheme.item is None:
        return ["url"]
    return _field_columns(scheme.item.fields, "")


def _field_columns(fields: list[FieldRule], prefix: str) -> list[str]:
    names: list[str] = []
    for rule in fields:
        name = prefix + rule.name
        if rule.follow:
            names.append(f"{name}.url")
            names.extend(_field_columns(rule.follow.fields, name + "."))
        else:
            names.append(name)
    return names


def flatten(item: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    row: dict[str, Any] = {}
    for key, value in item.items():
        name = prefix + key
        if isinstance(value, dict):
            row.update(flatten(value, name + "."))
        elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
            # A list of objects becomes one column per key, each joining the objects' values.
            flat = [flatten(v) if isinstance(v, dict) else {"": v} for v in value]
            for sub in dict.fromkeys(k for f in flat for k in f):
                row[f"{name}.{sub}" if sub else name] = _join([f.get(sub) for f in flat])
        elif isinstance(value, list):
            row[name] = _join(value)
        else:
            row[name] = value
    return row


def _join(values: list[Any]) -> str:
    return LIST_SEPARATOR.join("" if v is None else str(v) for v in values)
