"""Mapping near-homophones of domain terms back to the terms (社报卡 → 社保卡, 低包 → 低保).

Whisper hears the syllables right far more often than it picks the right characters for rare
domain words. A window of the recognised text whose toneless pinyin matches a domain term's is
replaced by the term. Terms of three or more characters also match with the confusions common in
Mandarin as elderly people speak it (z/zh, c/ch, s/sh, n/l, f/h, -n/-ng, ju/ji: ü/i after
j, q, x); two-character terms must match exactly, since short fuzzy matches would rewrite
ordinary words.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from pypinyin import Style, lazy_pinyin

_HAN = re.compile(r"[\u4e00-\u9fff]")
_INITIAL_MERGES = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("l", "n"), ("h", "f"))
_FINAL_MERGES = (("ang", "an"), ("eng", "en"), ("ing", "in"), ("iang", "ian"), ("uang", "uan"))


def syllables(text: str) -> tuple[str, ...]:
    return tuple(lazy_pinyin(text, style=Style.NORMAL, errors="default"))


def fuzzy_syllable(syllable: str) -> str:
    if syllable[:1] in ("j", "q", "x") and syllable[1:2] == "u":
        syllable = syllable[0] + "i" + syllable[2:]  # ju/ji, que/qie, xun/xin
    for long, short in _INITIAL_MERGES:
        if syllable.startswith(long):
            syllable = short + syllable[len(long) :]
            break
    for long, short in _FINAL_MERGES:
        if syllable.endswith(long):
            syllable = syllable[: -len(long)] + short
            break
    return syllable


class HomophoneCorrector:
    def __init__(self, terms: Iterable[str]) -> None:
        exact: dict[tuple[str, ...], set[str]] = defaultdict(set)
        fuzzy: dict[tuple[str, ...], set[str]] = defaultdict(set)
        for term in terms:
            if len(term) < 2 or not all(_HAN.match(c) for c in term):
                continue
            key = syllables(term)
            exact[key].add(term)
            if len(term) >= 3:
                fuzzy[tuple(fuzzy_syllable(s) for s in key)].add(term)
        # A sound shared by two different terms says nothing about which one was meant.
        self._exact = {k: next(iter(v)) for k, v in exact.items() if len(v) == 1}
        self._fuzzy = {k: next(iter(v)) for k, v in fuzzy.items() if len(v) == 1}
        self._lengths = sorted({len(k) for k in self._exact}, reverse=True)
        self._known = {term for group in exact.values() for term in group}

    def correct(self, text: str) -> str:
        """``text`` with each near-homophone of a domain term replaced, longest first."""
        out: list[str] = []
        i = 0
        while i < len(text):
            replacement = self._match_at(text, i)
            if replacement is None:
                out.append(text[i])
                i += 1
            else:
                term, length = replacement
                out.append(term)
                i += length
        return "".join(out)

    def _match_at(self, text: str, start: int) -> tuple[str, int] | None:
        for length in self._lengths:
            window = text[start : start + length]
            if len(window) < length or not all(_HAN.match(c) for c in window):
                continue
            if window in self._known:
                return window, length
            key = syllables(window)
            term = self._exact.get(key)
            if term is None and length >= 3:
                term = self._fuzzy.get(tuple(fuzzy_syllable(s) for s in key))
            if term is not None:
                return term, length
        return None
