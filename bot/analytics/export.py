"""The summary as CSV for Excel: UTF-8 with a BOM, one row per figure.

Columns: the indicator group (in Chinese), the figure's path in the JSON
(``ratings.by_channel.web.total``) and its value; an empty value is a figure with nothing to
compute it from (JSON null)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from bot.analytics.summary import GROUPS

BOM = "\ufeff"
HEADER = ("指标组", "指标", "数值")
PERIOD_GROUP = "统计范围"
# Excel runs a cell that starts with these as a formula; names from the data never should.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _safe_path(path: str) -> str:
    return "'" + path if path.startswith(_FORMULA_START) else path


def flatten(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Leaves of a JSON value with their dotted paths."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from flatten(inner, f"{path}.{key}" if path else str(key))
    else:
        yield path, value


def rows(summary: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    for key in ("from", "to", "timezone", "generated_at"):
        yield PERIOD_GROUP, key, _cell(summary[key])
    for group, label in GROUPS.items():
        for path, value in flatten(summary[group]):
            yield label, _safe_path(path), _cell(value)


def summary_csv(summary: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows(summary))
    return BOM + buffer.getvalue()
