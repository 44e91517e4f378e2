"""Mapping near-homophones of domain terms back to the terms (社报卡 → 社保卡, 低包 → 低保).

Whisper hears the syllables right far more often than it picks the right characters for rare
domain words. A window of the recognised text whose toneless pinyin matches a domain term's is
replaced by the term. Terms of three or more characters also match with the confusions common in
Mandarin as elderly people speak it (z/zh, c/ch, s/sh, n/l, f/h, -n/-ng, ju/ji: ü/i after
j, q, x); two-character terms must match exactly, since short fuzzy matches would rewrite
ordinary words. Terms of three or more characters may also be *near*: each syllable that
differs must keep its initial, or one like it (养老亲 → 养老金), or — in longer terms — its
final (高零股贴 → 高龄补贴); at most one such syllable per four characters (one for a
three-character term), and only one term may be nearest.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from functools import lru_cache

from pypinyin import Style, lazy_pinyin

_HAN = re.compile(r"[\u4e00-\u9fff]")
_INITIAL_MERGES = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("l", "n"), ("h", "f"))
_FINAL_MERGES = (("ang", "an"), ("eng", "en"), ("ing", "in"), ("iang", "ian"), ("uang", "uan"))

# Whether a replacement may happen: (the whole text, window start, window end, term).
Acceptor = Callable[[str, int, int, str], bool]


def syllables(text: str) -> tuple[str, ...]:
    return tuple(lazy_pinyin(text, style=Style.NORMAL, errors="default"))


def char_syllables(text: str) -> tuple[str, ...]:
    """One syllable per character of ``text`` (a non-Chinese character stands for itself),
    read in context, so windows of the text need no reading of their own."""
    return tuple(lazy_pinyin(text, style=Style.NORMAL, errors=lambda chars: list(chars)))


@lru_cache(maxsize=4096)
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


_INITIALS = ("zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q",
             "x", "r", "z", "c", "s", "y", "w")  # fmt: skip


def split_syllable(syllable: str) -> tuple[str, str]:
    for initial in _INITIALS:
        if syllable.startswith(initial):
            return initial, syllable[len(initial) :]
    return "", syllable


_INITIAL_CLASSES = {
    **dict.fromkeys(("j", "q", "x"), "jqx"),
    **dict.fromkeys(("z", "c", "s"), "zcs"),
    **dict.fromkeys(("b", "p"), "bp"),
    **dict.fromkeys(("d", "t"), "dt"),
    **dict.fromkeys(("g", "k"), "gk"),
}


def near_distance(heard: tuple[str, ...], term: tuple[str, ...]) -> float:
    """Half a point per syllable that keeps its initial (or one like it: j/q/x, z/c/s, b/p,
    d/t, g/k) or, in terms of four or more characters, its final; a whole one otherwise."""
    total = 0.0
    for a, b in zip(heard, term, strict=True):
        if a == b:
            continue
        (ia, fa), (ib, fb) = split_syllable(a), split_syllable(b)
        same_initial = ia == ib or _INITIAL_CLASSES.get(ia, ia) == _INITIAL_CLASSES.get(ib, ib)
        total += 0.5 if same_initial or (fa == fb and len(term) >= 4) else 1.0
    return total


def near_allowance(length: int) -> float:
    return 0.5 if length == 3 else 0.5 * (length // 4)


class HomophoneCorrector:
    def __init__(self, terms: Iterable[str], near_terms: Iterable[str] | None = None) -> None:
        """``near_terms``: the terms that may also be matched *near* (default: all of them)."""
        terms = list(terms)
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
        near = set(terms if near_terms is None else near_terms)
        self._by_length: dict[int, list[tuple[tuple[str, ...], str]]] = defaultdict(list)
        for key, term in self._fuzzy.items():
            if term in near:
                self._by_length[len(key)].append((key, term))

    def correct(self, text: str, accept: Acceptor | None = None) -> str:
        """``text`` with each near-homophone of a domain term replaced, longest first.

        Two passes: exact and fuzzy sounds first; near sounds only where the first pass found
        nothing, so 能住房公积金 keeps 住房公积金 rather than becoming 廉租房公积金.
        ``accept`` may veto a replacement (e.g. one that cuts through a word of the text)."""
        sounds = char_syllables(text)
        if len(sounds) != len(text):  # never expected; read each window on its own then
            sounds = None
        first = self._scan(text, sounds, 0, len(text), near=False, accept=accept)
        out: list[str] = []
        for start, end, piece, matched in first:
            if matched:
                out.append(piece)
            else:
                pieces = self._scan(text, sounds, start, end, near=True, accept=accept)
                out.extend(replaced for _, _, replaced, _ in pieces)
        return "".join(out)

    def _scan(
        self,
        text: str,
        sounds: tuple[str, ...] | None,
        begin: int,
        end: int,
        *,
        near: bool,
        accept: Acceptor | None,
    ) -> list[tuple[int, int, str, bool]]:
        """(start, end, text or term, replaced?) pieces of ``text[begin:end]``."""
        pieces: list[tuple[int, int, str, bool]] = []
        plain_start = begin
        i = begin
        while i < end:
            replacement = self._match_at(text[:end], sounds, i, near=near)
            if replacement is not None and accept is not None:
                term, length = replacement
                if term != text[i : i + length] and not accept(text, i, i + length, term):
                    replacement = None
            if replacement is None:
                i += 1
                continue
            if plain_start < i:
                pieces.append((plain_start, i, text[plain_start:i], False))
            term, length = replacement
            pieces.append((i, i + length, term, True))
            i += length
            plain_start = i
        if plain_start < end:
            pieces.append((plain_start, end, text[plain_start:end], False))
        return pieces

    def _match_at(
        self, text: str, sounds: tuple[str, ...] | None, start: int, *, near: bool
    ) -> tuple[str, int] | None:
        longest = self._lengths[0] if self._lengths else 0
        han_run = 0
        while (
            han_run < longest and start + han_run < len(text) and _HAN.match(text[start + han_run])
        ):
            han_run += 1
        for length in self._lengths:
            if length > han_run:
                continue
            window = text[start : start + length]
            if window in self._known:
                return window, length
            key = sounds[start : start + length] if sounds is not None else syllables(window)
            fuzzy_key = tuple(fuzzy_syllable(s) for s in key)
            if near:
                term = self._nearest(fuzzy_key) if length >= 3 else None
            else:
                term = self._exact.get(key)
                if term is None and length >= 3:
                    term = self._fuzzy.get(fuzzy_key)
            if term is not None:
                return term, length
        return None

    def _nearest(self, key: tuple[str, ...]) -> str | None:
        allowance = near_allowance(len(key))
        scored = sorted(
            (near_distance(key, term_key), term) for term_key, term in self._by_length[len(key)]
        )
        if not scored or scored[0][0] > allowance:
            return None
        if len(scored) > 1 and scored[1][0] == scored[0][0]:
            return None  # two terms equally near: no guess
        return scored[0][1]
