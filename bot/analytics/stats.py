"""Small, exactly defined statistics (the docs name these definitions)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

DIGITS = 3


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` rounded, or None when there is nothing to divide by."""
    return round(part / whole, DIGITS) if whole else None


def nearest_rank(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile: the smallest value with at least ``fraction`` of the values
    at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def durations(values: Sequence[float]) -> dict[str, float | int | None]:
    """Count, mean, median and 90th percentile (nearest rank) of durations in seconds."""
    if not values:
        return {"count": 0, "mean": None, "median": None, "p90": None}
    return {
        "count": len(values),
        "mean": round(statistics.fmean(values), DIGITS),
        "median": round(statistics.median(values), DIGITS),
        "p90": round(nearest_rank(values, 0.9), DIGITS),
    }
