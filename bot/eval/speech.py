"""Character error rate of speech recognition: Chinese characters and digits only, so
punctuation and spacing the recogniser adds or drops do not count."""

from __future__ import annotations

import re

_NOT_COUNTED = re.compile(r"[^\u4e00-\u9fff0-9]")


def characters(text: str) -> str:
    return _NOT_COUNTED.sub("", text)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions)."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[:], i
        for j, cb in enumerate(b, 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ca != cb))
    return row[-1]
